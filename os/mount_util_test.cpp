#include "os/mount_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/file.h"

namespace initos {
namespace {

TEST(MountUtilTest, DataStringJoinsOptions) {
  MountRequest req{
      "overlay", "overlay", "/x", {{"lowerdir", "/a"}, {"upperdir", "/b"}, {"ro", ""}}};
  EXPECT_EQ(MountDataString(req), "lowerdir=/a,upperdir=/b,ro");
  EXPECT_EQ(MountDataString(MountRequest{"erofs", "/dev/dm-0", "/x", {}}), "");
}

TEST(MountUtilTest, StateWithoutFilesystemIsReportedNotMounted) {
  char tmpl[] = "/tmp/initos-mount-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string dev = dir + "/blank";
  ASSERT_TRUE(WriteStringToFile(dev, std::string(8192, '\0')).ok());
  auto r = MountExt4State(dev, dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("has no filesystem"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().message.find("mkfs.ext4"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace initos
