#include "jail/vm.h"

#include <gtest/gtest.h>

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
