#include "upgrade/apply.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/bundle.h"
#include "image/testing/test_bundles.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

class ApplyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string d = dir_->path();
    ASSERT_TRUE(MakeDirs(d + "/tree/bin").ok());
    ASSERT_TRUE(WriteStringToFile(d + "/tree/bin/hello", "#!/bin/sh\necho hi\n", 0755).ok());
    testutil::WriteTestKeys(d, {"a", "b"});
    testutil::BuildTestBundle(d, "tree", "v2.bundle", "a", 2, 7);
    testutil::BuildTestBundle(d, "tree", "v2-other-key.bundle", "b", 2, 7);
    testutil::BuildTestBundle(d, "tree", "v1.bundle", "a", 1, 7);
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    state_ = work_ / "state";
    fs::create_directories(state_);
    for (const char* s : {"/slot-a", "/slot-b"}) {
      ASSERT_TRUE(WriteStringToFile(work_ / s, std::string(kSlotSize, 'o')).ok());
    }
    auto f = BootStateFile::Open(state_, true);
    ASSERT_TRUE(f.ok());
    BootState s;
    s.at(Slot::kA) = {1, true, 0};
    s.at(Slot::kB) = {1, true, 0};
    s.highest_good_version = 1;
    ASSERT_TRUE(f->Store(s).ok());
    target_.slot_path = work_ / "slot-b";
    target_.slot = Slot::kB;
    target_.name = "testos";
    auto pub = LoadPublicKey(dir_->path() + "/a.pub");
    ASSERT_TRUE(pub.ok());
    target_.keys = {*pub};
    target_.floor = 1;
    target_.tries = 3;
    target_.staging_dir = state_;
    before_ = Snapshot();
  }

  // Both slots and the record, to compare after a refused apply.
  std::string Snapshot() {
    std::string s;
    for (const char* f : {"/slot-a", "/slot-b", "/state/initos/boot-state"})
      s += *ReadFileToString(work_ / f);
    return s;
  }
  Result<Manifest> Apply(const std::string& bundle_path) {
    auto record = BootStateFile::Open(state_, false);
    if (!record.ok()) return record.error();
    auto in = OpenFile(bundle_path, O_RDONLY);
    if (!in.ok()) return in.error();
    return ApplyBundle(in->get(), target_, *record);
  }
  std::string Refused(const std::string& bundle_path) {
    auto r = Apply(bundle_path);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(Snapshot() == before_) << "a refused apply changed a slot or the record";
    return r.ok() ? "" : r.error().str();
  }
  std::string Bundle(const std::string& name) { return dir_->path() + "/" + name; }

  static constexpr size_t kSlotSize = 4 << 20;
  static TempDir* dir_;
  TempDir work_;
  std::string state_, before_;
  ApplyTarget target_;
};
TempDir* ApplyTest::dir_ = nullptr;

TEST_F(ApplyTest, WritesTheInactiveSlotAndMarksItNext) {
  uint64_t last = 0;
  auto record = BootStateFile::Open(state_, false);
  auto in = OpenFile(Bundle("v2.bundle"), O_RDONLY);
  auto m = ApplyBundle(in->get(), target_, *record, [&](uint64_t done, uint64_t) { last = done; });
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(m->version, 2u);
  std::string bundle = *ReadFileToString(Bundle("v2.bundle"));
  EXPECT_EQ(last, bundle.size());
  EXPECT_EQ(ReadFileToString(work_ / "slot-b")->substr(0, bundle.size()), bundle);
  EXPECT_EQ(*ReadFileToString(work_ / "slot-a"), std::string(kSlotSize, 'o'));
  auto l = BootStateFile::Open(state_, false)->Load();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->state.primary, Slot::kB);
  EXPECT_EQ(l->state.at(Slot::kB), (SlotState{2, false, 3}));
  EXPECT_EQ(l->state.at(Slot::kA), (SlotState{1, true, 0}));
  EXPECT_EQ(l->state.highest_good_version, 1u);
}

TEST_F(ApplyTest, AnotherKeyIsRefusedBeforeAnythingIsWritten) {
  EXPECT_NE(Refused(Bundle("v2-other-key.bundle")).find("signature"), std::string::npos);
}

TEST_F(ApplyTest, AnOlderVersionIsRefused) {
  target_.floor = 2;
  EXPECT_NE(Refused(Bundle("v1.bundle")).find("older than 2"), std::string::npos);
}

TEST_F(ApplyTest, AnotherProductIsRefused) {
  target_.name = "otheros";
  EXPECT_NE(Refused(Bundle("v2.bundle")).find("build it with --name otheros"), std::string::npos);
}

TEST_F(ApplyTest, ASlotTooSmallIsRefused) {
  ASSERT_TRUE(
      WriteStringToFile(work_ / "slot-b", std::string(kBundleHeaderAreaSize + 4096, 'o')).ok());
  before_ = Snapshot();
  EXPECT_NE(Refused(Bundle("v2.bundle")).find("grow the slot partition"), std::string::npos);
}

TEST_F(ApplyTest, ABundleCorruptedInTransitChangesNothing) {
  std::string b = *ReadFileToString(Bundle("v2.bundle"));
  b[kBundleHeaderAreaSize + 5000] ^= 0x40;  // a data byte: only the tree can tell
  ASSERT_TRUE(WriteStringToFile(work_ / "corrupt.bundle", b).ok());
  EXPECT_NE(Refused(work_ / "corrupt.bundle").find("bundle as received"), std::string::npos);
}

TEST_F(ApplyTest, ABundleCutShortOrWithTrailingBytesChangesNothing) {
  std::string b = *ReadFileToString(Bundle("v2.bundle"));
  ASSERT_TRUE(WriteStringToFile(work_ / "short.bundle", b.substr(0, b.size() - 4096)).ok());
  EXPECT_NE(Refused(work_ / "short.bundle").find("cut short"), std::string::npos);
  ASSERT_TRUE(WriteStringToFile(work_ / "long.bundle", b + "x").ok());
  EXPECT_NE(Refused(work_ / "long.bundle").find("trailing"), std::string::npos);
  ASSERT_TRUE(WriteStringToFile(work_ / "header-only.bundle", b.substr(0, 1000)).ok());
  EXPECT_NE(Refused(work_ / "header-only.bundle").find("bundle header"), std::string::npos);
}

TEST(ApplyProgressTest, LineHasRateAndEta) {
  EXPECT_EQ(ProgressLine(10 << 20, 30 << 20, 2.0), "10.0 MiB of 30.0 MiB, 5.0 MiB/s, ETA 4 s");
  EXPECT_EQ(ProgressLine(30 << 20, 30 << 20, 2.0), "30.0 MiB of 30.0 MiB");
}

}  // namespace
}  // namespace initos
