#include "jail/vm.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

TEST(VmStart, LogLineNamesAccelMachineCpusMemoryAndVsock) {
  JailConfig j;
  j.kind = JailKind::kVm;
  j.vm.machine = "microvm";
  j.vm.cpus = 2;
  j.vm.memory = 512ull << 20;
  EXPECT_EQ(DescribeVmStart(j, "tcg", "auto: no KVM (KVM_RUN hung)", 7),
            "accel tcg (auto: no KVM (KVM_RUN hung)), machine microvm, 2 cpus, 512M, vsock CID 7");
  j.vm.cpus = 1;
  j.vm.memory = 2ull << 30;
  j.vm.machine = "q35";
  EXPECT_EQ(DescribeVmStart(j, "kvm", "configured", 0),
            "accel kvm (configured), machine q35, 1 cpu, 2G, no vsock");
}

TEST(VmStart, KernelDefaultsToTheShippedOne) {
  JailConfig j;
  EXPECT_EQ(VmKernelPath(j), kDefaultVmKernel);
  j.vm.kernel = "/boot/vmlinuz";
  EXPECT_EQ(VmKernelPath(j), "/boot/vmlinuz");
}

TEST(VmVfio, GroupNodesFromSysfsOncePerGroup) {
  testutil::TempDir sys;
  const std::string devs = sys.path() + "/sys/bus/pci/devices";
  for (const char* d : {"0000:01:00.0", "0000:01:00.1", "0000:02:00.0", "0000:03:00.0"})
    ASSERT_TRUE(MakeDirs(devs + "/" + d).ok());
  std::filesystem::create_symlink("../../../kernel/iommu_groups/7",
                                  devs + "/0000:01:00.0/iommu_group");
  std::filesystem::create_symlink("../../../kernel/iommu_groups/7",
                                  devs + "/0000:01:00.1/iommu_group");
  std::filesystem::create_symlink("../../../kernel/iommu_groups/12",
                                  devs + "/0000:02:00.0/iommu_group");
  auto none = VfioDeviceNodes({}, sys.path());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto nodes = VfioDeviceNodes({"0000:01:00.0", "0000:01:00.1", "0000:02:00.0"}, sys.path());
  ASSERT_TRUE(nodes.ok()) << nodes.error().str();
  EXPECT_EQ(*nodes, (std::vector<std::string>{"/dev/vfio/vfio", "/dev/vfio/7", "/dev/vfio/12"}));
  auto bad = VfioDeviceNodes({"0000:03:00.0"}, sys.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("0000:03:00.0 has no IOMMU group"), std::string::npos)
      << bad.error().str();
}

TEST(VmStart, RefusedWithoutAVerifiedBundle) {
  VmSpec spec;
  spec.config.name = "vm1";
  spec.config.kind = JailKind::kVm;
  auto r = StartVm(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("no verified bundle"), std::string::npos) << r.error().str();
  spec.config.kind = JailKind::kPrivileged;
  EXPECT_FALSE(StartVm(spec).ok());
}

}  // namespace
}  // namespace initos
