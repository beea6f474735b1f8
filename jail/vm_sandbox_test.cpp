#include "jail/vm_sandbox.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>

namespace initos {
namespace {

std::vector<std::string> Describe(const std::vector<MountStep>& plan) {
  std::vector<std::string> out;
  for (const MountStep& s : plan) out.push_back(DescribeMountStep(s));
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(VmSandbox, CloneFlagsKeepTheHostNetworkOnlyForUserNetworking) {
  uint64_t f = VmSandboxCloneFlags(true);
  for (uint64_t want :
       {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET})
    EXPECT_TRUE(f & want) << want;
  EXPECT_FALSE(VmSandboxCloneFlags(false) & CLONE_NEWNET);
}

TEST(VmSandbox, MountPlanIsMinimalAndReadOnly) {
  VmRootLayout layout;
  layout.bind_dirs = {"usr"};
  layout.symlinks = {{"lib", "usr/lib"}};
  layout.ld_so_cache = true;
  auto plan = VmSandboxMountPlan(layout, {"/dev/kvm"}, false);
  auto d = Describe(plan);
  std::string all;
  for (const auto& s : d) all += s + "\n";
  // /usr and the whole root read-only; /dev holds exactly the nodes named.
  ASSERT_FALSE(plan.empty());
  EXPECT_EQ(plan.front().kind, MountStep::Kind::kBind);
  EXPECT_EQ(plan.front().source, "/usr");
  EXPECT_EQ(plan.back().kind, MountStep::Kind::kRemountReadOnly);
  EXPECT_EQ(plan.back().target, "/");
  int binds_in_dev = 0;
  for (const MountStep& s : plan)
    if (s.kind == MountStep::Kind::kBind && s.target.starts_with("/dev/")) ++binds_in_dev;
  EXPECT_EQ(binds_in_dev, 4) << all;  // null, zero, urandom, kvm
  for (const MountStep& s : plan) {
    EXPECT_NE(s.source, "/sys") << "no sysfs without VFIO";
    EXPECT_NE(s.target, "/dev/mem");
  }
  bool ro_usr = false, ro_dev = false;
  for (const MountStep& s : plan) {
    ro_usr = ro_usr || (s.kind == MountStep::Kind::kRemountReadOnly && s.target == "/usr");
    ro_dev = ro_dev || (s.kind == MountStep::Kind::kRemountReadOnly && s.target == "/dev");
  }
  EXPECT_TRUE(ro_usr && ro_dev) << all;
  auto vfio = VmSandboxMountPlan(layout, {"/dev/vfio/vfio", "/dev/vfio/12"}, true);
  bool sys = false;
  for (const MountStep& s : vfio)
    sys = sys || (s.kind == MountStep::Kind::kBind && s.source == "/sys");
  EXPECT_TRUE(sys);
}

TEST(VmSandbox, MemoryMaxMustExceedGuestMemoryPlusOverhead) {
  JailLimits l;
  EXPECT_TRUE(CheckVmMemoryMax("vm1", l, 512ull << 20).ok());
  l.memory_max = 540ull << 20;
  auto r = CheckVmMemoryMax("vm1", l, 512ull << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(),
            "jail vm1: memory-max 540M does not leave room for the guest's 512M plus QEMU's 64M; "
            "raise memory-max to at least 576M or lower memory");
  l.memory_max = 576ull << 20;
  EXPECT_TRUE(CheckVmMemoryMax("vm1", l, 512ull << 20).ok());
}

TEST(VmSandbox, GidMapMapsOneIdPlusDeviceGroups) {
  EXPECT_EQ(VmGidMap(100000, {}), "0 100000 1\n");
  EXPECT_EQ(VmGidMap(100000, {108, 36}), "0 100000 1\n1 108 1\n2 36 1\n");
}

}  // namespace
}  // namespace initos
