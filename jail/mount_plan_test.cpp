#include "jail/mount_plan.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>

namespace initos {
namespace {

std::vector<std::string> Described(const std::vector<MountStep>& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan) out.push_back(DescribeMountStep(s));
  return out;
}

size_t IndexOf(const std::vector<std::string>& v, const std::string& s) {
  auto it = std::find(v.begin(), v.end(), s);
  EXPECT_NE(it, v.end()) << "missing step: " << s;
  return static_cast<size_t>(it - v.begin());
}

JailConfig Config() {
  JailConfig c;
  c.name = "web";
  c.command = {"/bin/sh"};
  return c;
}

TEST(MountPlanTest, ProcIsFreshAndMaskedAndReadOnlyWhereRuncDoesIt) {
  JailConfig c = Config();
  MountPlanInput in;
  in.config = &c;
  auto d = Described(BuildMountPlan(in));
  size_t proc = IndexOf(d, "mount proc on /proc");
  EXPECT_GT(IndexOf(d, "bind /dev/null -> /proc/kcore"), proc);
  EXPECT_GT(IndexOf(d, "bind /dev/null -> /proc/keys"), proc);
  EXPECT_GT(IndexOf(d, "bind /dev/null -> /proc/timer_list"), proc);
  EXPECT_GT(IndexOf(d, "mount tmpfs on /proc/acpi (size=0) read-only"), proc);
  // Each read-only path is bound onto itself, then remounted.
  for (const char* p : {"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"}) {
    size_t self = IndexOf(d, std::string("rbind ") + p + " -> " + p);
    EXPECT_EQ(IndexOf(d, std::string("remount ") + p + " read-only"), self + 1);
  }
}

TEST(MountPlanTest, SysIsReadOnlyAndCgroupIsTheJailsOwnRoot) {
  JailConfig c = Config();
  MountPlanInput in;
  in.config = &c;
  auto plan = BuildMountPlan(in);
  auto d = Described(plan);
  size_t sys = IndexOf(d, "mount sysfs on /sys read-only");
  EXPECT_GT(IndexOf(d, "mount cgroup2 on /sys/fs/cgroup"), sys);
  EXPECT_TRUE(plan[sys].flags & MS_RDONLY);

  in.new_netns = false;  // then the host's /sys, bound read-only
  d = Described(BuildMountPlan(in));
  EXPECT_EQ(IndexOf(d, "remount /sys read-only"), IndexOf(d, "rbind /sys -> /sys") + 1);
}

TEST(MountPlanTest, DevIsMinimalWithANewDevptsInstance) {
  JailConfig c = Config();
  c.devices = {"/dev/sda", "/dev/null"};
  MountPlanInput in;
  in.config = &c;
  in.user_namespace = true;
  auto plan = BuildMountPlan(in);
  auto d = Described(plan);
  size_t dev = IndexOf(d, "mount tmpfs on /dev (mode=755,size=65536k)");
  for (const char* n :
       {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"})
    EXPECT_GT(IndexOf(d, std::string("bind ") + n + " -> " + n), dev);
  EXPECT_EQ(std::count(d.begin(), d.end(), "bind /dev/null -> /dev/null"), 1);
  // Unprivileged: nothing beyond the default set, and no console without a tty.
  EXPECT_EQ(std::count(d.begin(), d.end(), "bind /dev/sda -> /dev/sda"), 0);
  EXPECT_EQ(std::count(d.begin(), d.end(), "bind /proc/self/fd/0 -> /dev/console"), 0);
  IndexOf(d, "mount devpts on /dev/pts (newinstance,ptmxmode=0666,mode=0620,gid=5)");
  IndexOf(d, "symlink /dev/ptmx -> pts/ptmx");
  IndexOf(d, "symlink /dev/fd -> /proc/self/fd");
  for (const auto& s : plan) {
    if (s.target == "/dev") EXPECT_EQ(s.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  }

  in.user_namespace = false;
  in.console_is_tty = true;
  in.gid5_mapped = false;
  d = Described(BuildMountPlan(in));
  IndexOf(d, "bind /dev/sda -> /dev/sda");
  IndexOf(d, "bind /proc/self/fd/0 -> /dev/console");
  IndexOf(d, "mount devpts on /dev/pts (newinstance,ptmxmode=0666,mode=0620)");
}

TEST(MountPlanTest, RunTmpAndTheContainerManagerFile) {
  JailConfig c = Config();
  MountPlanInput in;
  in.config = &c;
  auto plan = BuildMountPlan(in);
  auto d = Described(plan);
  size_t run = IndexOf(d, "mount tmpfs on /run (mode=755)");
  IndexOf(d, "mount tmpfs on /tmp (mode=1777)");
  size_t mgr = IndexOf(d, "write /run/host/container-manager");
  EXPECT_GT(mgr, run);
  EXPECT_EQ(plan[mgr].source, "initos\n");
}

TEST(MountPlanTest, ConfigMountsComeLastWithReadOnlyRemounts) {
  JailConfig c = Config();
  JailMount ro{JailMount::Type::kBind, "/srv/data", "/data", true, ""};
  JailMount rw{JailMount::Type::kBind, "/srv/cache", "/var/cache", false, ""};
  JailMount tmp{JailMount::Type::kTmpfs, "", "/scratch", false, "64m"};
  c.mounts = {ro, rw, tmp};
  MountPlanInput in;
  in.config = &c;
  auto plan = BuildMountPlan(in);
  auto d = Described(plan);
  size_t data = IndexOf(d, "rbind /srv/data -> /data");
  EXPECT_GT(data, IndexOf(d, "write /run/host/container-manager"));
  EXPECT_EQ(IndexOf(d, "remount /data read-only"), data + 1);
  EXPECT_EQ(std::count(d.begin(), d.end(), "remount /var/cache read-only"), 0);
  size_t scratch = IndexOf(d, "mount tmpfs on /scratch (mode=755,size=64m)");
  EXPECT_EQ(scratch, d.size() - 1);
  EXPECT_EQ(plan[data].target_type, MountStep::TargetType::kLikeSource);
  EXPECT_FALSE(plan[data].source_in_jail);  // the source is the host's
}

// Every target is an in-jail path: the executor resolves it inside the
// rootfs, so the plan itself never names a host path as a target.
TEST(MountPlanTest, TargetsAreJailPathsEvenForEscapingConfigTargets) {
  JailConfig c = Config();
  c.mounts = {{JailMount::Type::kBind, "/srv", "/../../etc", false, ""}};
  MountPlanInput in;
  in.config = &c;
  for (const auto& s : BuildMountPlan(in)) {
    EXPECT_TRUE(s.target.starts_with("/")) << s.target;
    if (s.kind == MountStep::Kind::kBind && s.source_in_jail) {
      EXPECT_TRUE(s.source.starts_with("/proc/")) << s.source;
    }
  }
}

}  // namespace
}  // namespace initos
