#include "os/mounts.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

namespace initos {
namespace {

constexpr const char kSample[] =
    "22 1 0:21 / / rw,relatime - rootfs rootfs rw\n"
    "23 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw\n"
    "24 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:3 - sysfs sysfs rw\n"
    "25 22 0:5 / /dev rw,nosuid,noexec shared:4 - devtmpfs devtmpfs rw,size=1k\n"
    "26 25 0:24 / /dev/pts rw,nosuid,noexec - devpts devpts rw,gid=5,mode=620\n"
    "27 24 0:25 / /sys/fs/cgroup rw shared:5 master:1 - cgroup2 cgroup2 rw,nsdelegate\n"
    "28 22 0:26 / /mnt/my\\040disk rw - tmpfs tmpfs rw\n"
    "garbage line without fields\n"
    "x y 0:1 / /bad rw - tmpfs tmpfs rw\n";

TEST(ParseMountInfo, ReadsFieldsAndUnescapes) {
  auto e = ParseMountInfo(kSample);
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[0].mount_point, "/");
  EXPECT_EQ(e[0].fstype, "rootfs");
  EXPECT_EQ(e[4].id, 26);
  EXPECT_EQ(e[4].parent_id, 25);
  EXPECT_EQ(e[4].mount_point, "/dev/pts");
  EXPECT_EQ(e[4].fstype, "devpts");
  // Optional fields ("shared:5 master:1") before the separator are skipped.
  EXPECT_EQ(e[5].fstype, "cgroup2");
  EXPECT_EQ(e[6].mount_point, "/mnt/my disk");
}

TEST(UnmountOrder, ChildrenBeforeParents) {
  auto order = UnmountOrder(ParseMountInfo(kSample));
  std::vector<std::string> want = {"/mnt/my disk", "/sys/fs/cgroup", "/dev/pts", "/dev",
                                   "/sys",         "/proc",          "/"};
  EXPECT_EQ(order, want);
}

TEST(EarlyMounts, SafeFlagsAndParentsFirst) {
  auto specs = EarlyMounts();
  std::vector<std::string> targets;
  for (const auto& m : specs) {
    targets.push_back(m.target);
    EXPECT_TRUE(m.flags & MS_NOSUID) << m.target;
  }
  std::vector<std::string> want = {"/proc",    "/sys", "/dev",          "/dev/pts",
                                   "/dev/shm", "/run", "/sys/fs/cgroup"};
  EXPECT_EQ(targets, want);
  EXPECT_FALSE(specs[2].flags & MS_NODEV) << "/dev must allow device nodes";
  EXPECT_TRUE(specs[0].flags & MS_NOEXEC);
  EXPECT_NE(specs[3].data.find("newinstance"), std::string::npos);
  EXPECT_NE(specs[3].data.find("ptmxmode=0666"), std::string::npos);
  EXPECT_EQ(specs[5].data, "mode=0755");
  EXPECT_TRUE(specs[5].flags & MS_NODEV);
  EXPECT_EQ(specs[6].fstype, "cgroup2");
  EXPECT_EQ(specs[6].data, "nsdelegate");
}

}  // namespace
}  // namespace initos
