// Self-test of the QEMU harness with a plain busybox initramfs (no initos), so
// a harness bug is not mistaken for a PID-1 bug.
#include "qemu-tests/harness.h"

#include <gtest/gtest.h>

namespace initos::qemu {
namespace {

constexpr const char kShellInit[] = R"(#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
echo HARNESS-BOOTED
exec /bin/busybox sh
)";

TEST(Harness, ConsoleRoundTripAndExitCode) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  auto img = BuildBusyboxInitramfs(kShellInit, {}, dir);
  ASSERT_TRUE(img.ok()) << img.error().str();
  auto q = Qemu::Start(BootOptions(*img));
  ASSERT_TRUE(q.ok()) << q.error().str();
  Qemu& vm = **q;

  ASSERT_TRUE(vm.WaitFor("Run /init as init process", kBootTimeout)) << vm.Tail();
  ASSERT_TRUE(vm.WaitFor("HARNESS-BOOTED")) << vm.Tail();
  // The typed text is echoed as-is; only a real shell prints the evaluated sum.
  ASSERT_TRUE(vm.Send("echo SUM-$((40+2))\n"));
  ASSERT_TRUE(vm.WaitFor("SUM-42")) << vm.Tail();
  ASSERT_TRUE(vm.Running());
  ASSERT_TRUE(vm.Send("/bin/busybox poweroff -f\n"));
  auto code = vm.WaitExit();
  ASSERT_TRUE(code.has_value()) << "QEMU still running after poweroff";
  EXPECT_EQ(*code, 0);
  EXPECT_NE(vm.Output().find("reboot: Power down"), std::string::npos) << vm.Tail();
  EXPECT_FALSE(vm.Running());
}

TEST(Harness, WaitForTimesOutAndKillsQemu) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  auto img = BuildBusyboxInitramfs(kShellInit, {}, dir);
  ASSERT_TRUE(img.ok()) << img.error().str();
  auto q = Qemu::Start(BootOptions(*img));
  ASSERT_TRUE(q.ok()) << q.error().str();
  ASSERT_TRUE((*q)->WaitFor("HARNESS-BOOTED", kBootTimeout)) << (*q)->Tail();
  // Text that never comes: WaitFor must give up on time, QEMU still alive.
  EXPECT_FALSE((*q)->WaitFor("NEVER-PRINTED", Seconds(2)));
  EXPECT_TRUE((*q)->Running());
  EXPECT_FALSE((*q)->WaitExit(Seconds(1)).has_value());
}

}  // namespace
}  // namespace initos::qemu
