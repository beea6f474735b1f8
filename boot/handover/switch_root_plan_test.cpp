#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/file.h"
#include "boot/handover/switch_root.h"
#include "gtest/gtest.h"

namespace initos {
namespace {

using K = SwitchRootStep::Kind;

// What PID 1 sees just before the handover: the initramfs rootfs, its API
// mounts with submounts, the OS root at /sysroot, the state partition under
// /run, and the partition holding the bundle file at /mnt/images.
constexpr char kMountInfo[] =
    "1 1 0:2 / / rw - rootfs rootfs rw\n"
    "20 1 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw\n"
    "21 20 0:20 / /dev/pts rw - devpts devpts rw\n"
    "22 1 0:21 / /proc rw - proc proc rw\n"
    "23 1 0:22 / /sys rw - sysfs sysfs rw\n"
    "24 23 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    "25 1 0:24 / /run rw - tmpfs tmpfs rw\n"
    "26 25 8:3 / /run/initos/state rw - ext4 /dev/vda3 rw\n"
    "27 1 8:2 / /mnt/images ro - ext4 /dev/vda2 ro\n"
    "28 27 0:30 / /mnt/images/inner rw - tmpfs tmpfs rw\n"
    "30 1 254:0 / /sysroot ro - erofs /dev/dm-0 ro\n"
    "31 30 0:31 / /sysroot/var rw - tmpfs tmpfs rw\n"
    "32 1 0:32 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";

std::vector<std::string> Describe(const std::vector<SwitchRootStep>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(s.str());
  return out;
}

TEST(SwitchRootPlan, MountPointsAreUnescapedInOrder) {
  auto mp = MountPointsFromMountInfo(kMountInfo);
  ASSERT_EQ(mp.size(), 13u);
  EXPECT_EQ(mp[0], "/");
  EXPECT_EQ(mp[2], "/dev/pts");
  EXPECT_EQ(mp[12], "/mnt/with space");
  EXPECT_TRUE(MountPointsFromMountInfo("garbage\n\n1 2\n").empty());
}

TEST(SwitchRootPlan, FullSequence) {
  SwitchRootInput in;
  in.mountinfo = kMountInfo;
  in.init = "/sbin/init";
  in.keep = {"/etc/initos/sidecar"};
  auto plan = PlanSwitchRoot(in);
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  std::vector<std::string> want = {
      "move /dev -> /sysroot/dev",
      "move /proc -> /sysroot/proc",
      "move /sys -> /sysroot/sys",
      "move /run -> /sysroot/run",
      "detach /mnt/images",
      "detach /mnt/with space",
      "delete initramfs contents below / (keeping 1 paths)",
      "chdir /sysroot",
      "move /sysroot -> /",
      "chroot .",
      "exec /sbin/init",
  };
  EXPECT_EQ(Describe(*plan), want);
  EXPECT_EQ((*plan)[6].keep, std::vector<std::string>{"/etc/initos/sidecar"});
  EXPECT_EQ(plan->back().kind, K::kExec);
  EXPECT_EQ(plan->back().argv, std::vector<std::string>{"/sbin/init"});
}

TEST(SwitchRootPlan, AbsentApiMountsAreSkippedAndArgvKept) {
  SwitchRootInput in;
  in.mountinfo =
      "1 1 0:2 / / rw - rootfs rootfs rw\n"
      "22 1 0:21 / /proc rw - proc proc rw\n"
      "30 1 254:0 / /new/root ro - erofs /dev/dm-0 ro\n";
  in.new_root = "/new/root/";
  in.init = "/lib/systemd/systemd";
  in.argv = {"/lib/systemd/systemd", "--log-level=debug"};
  auto plan = PlanSwitchRoot(in);
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  std::vector<std::string> want = {
      "move /proc -> /new/root/proc",
      "delete initramfs contents below /",
      "chdir /new/root",
      "move /new/root -> /",
      "chroot .",
      "exec /lib/systemd/systemd --log-level=debug",
  };
  EXPECT_EQ(Describe(*plan), want);
}

TEST(SwitchRootPlan, KeptMountIsNotDetached) {
  SwitchRootInput in;
  in.mountinfo = kMountInfo;
  in.init = "/sbin/init";
  in.keep = {"/mnt/images"};
  auto plan = PlanSwitchRoot(in);
  ASSERT_TRUE(plan.ok());
  for (const auto& s : *plan) EXPECT_NE(s.str(), "detach /mnt/images");
}

TEST(SwitchRootPlan, MountInfoBelowARoot) {
  std::string text =
      "1 1 0:2 / / rw - rootfs rootfs rw\n"
      "40 1 0:40 / /tmp/t/root rw - tmpfs tmpfs rw\n"
      "41 40 0:41 / /tmp/t/root/dev rw - tmpfs tmpfs rw\n"
      "42 1 0:42 / /tmp/t/rootless rw - tmpfs tmpfs rw\n"
      "43 40 0:43 / /tmp/t/root/a\\040b rw,relatime shared:5 - tmpfs tmpfs rw\n";
  EXPECT_EQ(MountInfoBelow(text, "/tmp/t/root/"),
            "40 1 0:40 / / rw - tmpfs tmpfs rw\n"
            "41 40 0:41 / /dev rw - tmpfs tmpfs rw\n"
            "43 40 0:43 / /a\\040b rw,relatime shared:5 - tmpfs tmpfs rw\n");
  EXPECT_EQ(MountInfoBelow(text, "/"), text);
}

TEST(SwitchRootPlan, RefusesBadInput) {
  SwitchRootInput in;
  in.mountinfo = "1 1 0:2 / / rw - rootfs rootfs rw\n";
  in.init = "/sbin/init";
  auto r = PlanSwitchRoot(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/sysroot is not a mount point"), std::string::npos)
      << r.error().message;

  in.mountinfo = kMountInfo;
  in.init = "sbin/init";
  r = PlanSwitchRoot(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("must be an absolute path"), std::string::npos);

  in.init = "/sbin/init";
  in.new_root = "/";
  EXPECT_FALSE(PlanSwitchRoot(in).ok());
}

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/switch_root_test.XXXXXX";
    path_ = ::mkdtemp(t);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Touch(const std::string& p, mode_t mode = 0755) {
  ASSERT_TRUE(WriteStringToFile(p, "#!/bin/sh\n", mode).ok()) << p;
}

TEST(FindOsInit, SearchesAndResolvesSymlinksInsideTheRoot) {
  TempDir d;
  const std::string r = d.path();
  ASSERT_TRUE(MakeDirs(r + "/lib/systemd").ok());
  ASSERT_TRUE(MakeDirs(r + "/sbin").ok());
  Touch(r + "/lib/systemd/systemd");
  // Absolute symlink: must resolve inside r, not on the host.
  ASSERT_EQ(::symlink("/lib/systemd/systemd", (r + "/sbin/init").c_str()), 0);
  auto init = FindOsInit(r, "");
  ASSERT_TRUE(init.ok()) << init.error().str();
  EXPECT_EQ(*init, "/sbin/init");

  // A dangling absolute link is skipped in favour of the next candidate,
  // even if the host has that path.
  ASSERT_EQ(::unlink((r + "/sbin/init").c_str()), 0);
  ASSERT_EQ(::symlink("/bin/sh", (r + "/sbin/init").c_str()), 0);
  init = FindOsInit(r, "");
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(*init, "/lib/systemd/systemd");
}

TEST(FindOsInit, ConfiguredAndMissing) {
  TempDir d;
  const std::string r = d.path();
  ASSERT_TRUE(MakeDirs(r + "/opt").ok());
  Touch(r + "/opt/myinit");
  Touch(r + "/opt/notexec", 0644);
  auto init = FindOsInit(r, "/opt/myinit");
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(*init, "/opt/myinit");

  auto bad = FindOsInit(r, "/opt/notexec");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not an executable file"), std::string::npos);

  auto none = FindOsInit(r, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no OS init in " + r), std::string::npos)
      << none.error().message;
  EXPECT_NE(none.error().message.find("/sbin/init"), std::string::npos);
  EXPECT_NE(none.error().message.find("/lib/systemd/systemd"), std::string::npos);
}

TEST(DeleteTreeSameFs, KeepsKeptPathsAndTheirParents) {
  TempDir d;
  const std::string r = d.path();
  ASSERT_TRUE(MakeDirs(r + "/etc/initos/sidecar").ok());
  ASSERT_TRUE(MakeDirs(r + "/usr/lib/deep/er").ok());
  Touch(r + "/init");
  Touch(r + "/etc/initos/initos.toml");
  Touch(r + "/etc/initos/sidecar/key");
  Touch(r + "/usr/lib/deep/er/f");
  ASSERT_EQ(::symlink("/nonexistent", (r + "/link").c_str()), 0);
  int fd = ::open(r.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto n = DeleteTreeSameFs(fd, {"/etc/initos/sidecar"});
  ::close(fd);
  ASSERT_TRUE(n.ok());
  // init, link, initos.toml, f, er, deep, lib, usr
  EXPECT_EQ(*n, 8u);
  struct stat st;
  EXPECT_EQ(::stat((r + "/etc/initos/sidecar/key").c_str(), &st), 0);
  EXPECT_NE(::lstat((r + "/init").c_str(), &st), 0);
  EXPECT_NE(::lstat((r + "/link").c_str(), &st), 0);
  EXPECT_NE(::stat((r + "/usr").c_str(), &st), 0);
  EXPECT_NE(::stat((r + "/etc/initos/initos.toml").c_str(), &st), 0);
}

}  // namespace
}  // namespace initos
