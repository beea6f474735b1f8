#include "os/boot_state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

BootState Installed() {
  BootState s;
  s.at(Slot::kA) = {1, true, 0};
  s.highest_good_version = 1;
  return s;
}

TEST(BootStateFileTest, StoresAlternateCopiesAndLoadTakesTheNewest) {
  TempDir dir;
  auto f = BootStateFile::Open(dir.path(), true);
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_FALSE(f->Load().ok());  // empty file: no valid copy
  ASSERT_TRUE(f->Store(Installed()).ok());
  BootState next = *MarkNext(Installed(), Slot::kB, 2, 3);
  ASSERT_TRUE(f->Store(next).ok());
  EXPECT_EQ(fs::file_size(dir / "initos/boot-state"), 2 * kBootStateCopySize);

  auto again = BootStateFile::Open(dir.path(), false);
  ASSERT_TRUE(again.ok());
  auto l = again->Load();
  ASSERT_TRUE(l.ok()) << l.error().str();
  EXPECT_EQ(l->state, next);
  EXPECT_EQ(l->copy, 1);
}

// A power cut in the middle of a Store: the copy being written is garbage,
// the other still holds the state before it.
TEST(BootStateFileTest, ATornWriteFallsBackToTheOtherCopy) {
  TempDir dir;
  auto f = BootStateFile::Open(dir.path(), true);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->Store(Installed()).ok());                             // copy 1
  ASSERT_TRUE(f->Store(*MarkNext(Installed(), Slot::kB, 2, 3)).ok());  // copy 2
  auto fd = OpenFile(dir / "initos/boot-state", O_WRONLY);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(::pwrite(fd->get(), "torn", 4, kBootStateCopySize + 100), 4);
  auto l = f->Load();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->state, Installed());
  EXPECT_NE(l->note.find("copy 2 is torn"), std::string::npos) << l->note;
  // The next write goes over the torn copy, not over the good one.
  BootState later = *MarkNext(Installed(), Slot::kB, 3, 3);
  ASSERT_TRUE(f->Store(later).ok());
  auto l2 = BootStateFile::Open(dir.path(), false)->Load();
  ASSERT_TRUE(l2.ok());
  EXPECT_EQ(l2->state, later);
  EXPECT_EQ(l2->note, "");
}

TEST(BootStateFileTest, APlantedSymlinkIsRefused) {
  TempDir dir;
  fs::create_directories(dir / "elsewhere");
  fs::create_symlink(dir / "elsewhere", dir / "initos");
  auto f = BootStateFile::Open(dir.path(), true);
  EXPECT_FALSE(f.ok());
  EXPECT_FALSE(fs::exists(dir / "elsewhere/boot-state"));
  fs::remove(dir / "initos");
  fs::create_directories(dir / "initos");
  fs::create_symlink(dir / "elsewhere/x", dir / "initos/boot-state");
  EXPECT_FALSE(BootStateFile::Open(dir.path(), true).ok());
  EXPECT_FALSE(fs::exists(dir / "elsewhere/x"));
}

// A jail's record lives in its own directory, apart from the OS record,
// and a symlink planted on its way is refused like the OS one.
TEST(BootStateFileTest, AJailRecordIsSeparateAndOpenedBeneath) {
  TempDir dir;
  EXPECT_EQ(JailBootStatePath("web"), "initos/jails/web/boot-state");
  auto os = BootStateFile::Open(dir.path(), true);
  ASSERT_TRUE(os.ok()) << os.error().str();
  ASSERT_TRUE(os->Store(Installed()).ok());
  auto jail = BootStateFile::Open(dir.path(), true, JailBootStatePath("web"));
  ASSERT_TRUE(jail.ok()) << jail.error().str();
  EXPECT_FALSE(jail->Load().ok());  // new: no valid copy, the OS record is not read
  BootState next = *MarkNext(Installed(), Slot::kB, 2, 3);
  ASSERT_TRUE(jail->Store(next).ok());
  EXPECT_EQ(fs::file_size(dir / "initos/jails/web/boot-state"), kBootStateCopySize);
  auto again = BootStateFile::Open(dir.path(), false, JailBootStatePath("web"));
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_EQ(again->Load()->state, next);
  EXPECT_EQ(BootStateFile::Open(dir.path(), false)->Load()->state, Installed());
  EXPECT_FALSE(BootStateFile::Open(dir.path(), false, JailBootStatePath("db")).ok());

  fs::create_directories(dir / "elsewhere");
  fs::create_symlink(dir / "elsewhere", dir / "initos/jails/evil");
  EXPECT_FALSE(BootStateFile::Open(dir.path(), true, JailBootStatePath("evil")).ok());
  EXPECT_FALSE(fs::exists(dir / "elsewhere/boot-state"));
  EXPECT_FALSE(BootStateFile::Open(dir.path(), true, "../x/boot-state").ok());
  EXPECT_FALSE(BootStateFile::Open(dir.path(), true, "/abs/boot-state").ok());
}

}  // namespace
}  // namespace initos
