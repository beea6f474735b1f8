#include "jail/log_ring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "base/file.h"

namespace initos {
namespace {

TEST(LogRingTest, KeepsTheNewestBytes) {
  LogRing r(8);
  r.Append("hello ");
  r.Append("world");
  EXPECT_EQ(r.Contents(), "lo world");
  EXPECT_EQ(r.total(), 11u);
  r.Append("0123456789ABCDEF");
  EXPECT_EQ(r.Contents(), "89ABCDEF");
}

TEST(LogRingTest, SinceGivesWhatCameAfterAnOffset) {
  LogRing r(8);
  r.Append("abc");
  uint64_t mark = r.total();
  r.Append("def");
  EXPECT_EQ(r.Since(mark), "def");
  r.Append("0123456789");  // overruns the mark: only what is still held
  EXPECT_EQ(r.Since(mark), "23456789");
  EXPECT_EQ(r.Since(r.total()), "");
}

TEST(LogFilesTest, RotatesAtTheCapAndKeepsAtMostNFiles) {
  char tmpl[] = "/tmp/logfilesXXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  LogFiles f(dir, "logs", "web", 10, 3);
  for (int i = 0; i < 5; ++i) f.Append("0123456789");  // 5 fills of exactly the cap
  auto cur = ReadFileToString(dir + "/logs/web.log");
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ(*cur, "0123456789");
  EXPECT_TRUE(std::filesystem::exists(dir + "/logs/web.log.1"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/logs/web.log.2"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/logs/web.log.3"));
  std::filesystem::remove_all(dir);
}

TEST(LogFilesTest, APlantedSymlinkIsNotFollowed) {
  char tmpl[] = "/tmp/logfilesXXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ::mkdir((dir + "/logs").c_str(), 0700);
  std::filesystem::create_symlink(dir + "/victim", dir + "/logs/web.log");
  LogFiles f(dir, "logs", "web", 100, 2);
  f.Append("data");
  EXPECT_FALSE(std::filesystem::exists(dir + "/victim"));
  std::filesystem::remove_all(dir);
}

// The disk's owner can also plant the directory: state/jails -> /etc would
// otherwise put PID 1's log files (and their rotation renames) there.
TEST(LogFilesTest, APlantedDirectorySymlinkIsNotFollowed) {
  char tmpl[] = "/tmp/logfilesXXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ::mkdir((dir + "/victim").c_str(), 0700);
  std::filesystem::create_symlink(dir + "/victim", dir + "/jails");
  LogFiles f(dir, "jails/logs", "web", 100, 2);
  f.Append("data");
  EXPECT_FALSE(std::filesystem::exists(dir + "/victim/logs"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace initos
