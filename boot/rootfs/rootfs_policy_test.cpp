#include "boot/rootfs/rootfs_policy.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

using Kind = RootfsFailureAction::Kind;

RootfsFailureAction Decide(OnFailure f, bool insecure, std::vector<std::string> shell = {"/bin/sh"},
                           int delay = 10) {
  RootfsConfig r;
  r.on_failure = f;
  r.insecure_dev_mode = insecure;
  InitConfig i;
  i.shell = std::move(shell);
  i.failure_delay_s = delay;
  return DecideRootfsFailure(r, i);
}

TEST(RootfsPolicy, PlainActions) {
  auto reboot = Decide(OnFailure::kReboot, false);
  EXPECT_EQ(reboot.kind, Kind::kReboot);
  EXPECT_EQ(reboot.delay_s, 10);
  EXPECT_TRUE(reboot.note.empty());
  EXPECT_EQ(Decide(OnFailure::kHalt, false).kind, Kind::kHalt);
  auto off = Decide(OnFailure::kPoweroff, false, {}, 3);
  EXPECT_EQ(off.kind, Kind::kPoweroff);
  EXPECT_EQ(off.delay_s, 3);
  EXPECT_EQ(Decide(OnFailure::kReboot, false, {}, -4).delay_s, 0);
}

TEST(RootfsPolicy, ShellRefusedWithoutInsecureDevMode) {
  auto a = Decide(OnFailure::kShell, false);
  EXPECT_EQ(a.kind, Kind::kReboot);
  EXPECT_TRUE(a.shell.empty());
  EXPECT_NE(a.note.find("insecure-dev-mode"), std::string::npos);
}

TEST(RootfsPolicy, ShellOnlyInInsecureDevMode) {
  auto a = Decide(OnFailure::kShell, true, {"/bin/busybox", "sh"});
  EXPECT_EQ(a.kind, Kind::kShell);
  EXPECT_EQ(a.shell, (std::vector<std::string>{"/bin/busybox", "sh"}));
  EXPECT_NE(a.note.find("INSECURE"), std::string::npos);
}

TEST(RootfsPolicy, ShellWithoutShellArgvReboots) {
  EXPECT_EQ(Decide(OnFailure::kShell, true, {}).kind, Kind::kReboot);
}

TEST(RootfsPolicy, InsecureDevModeDoesNotChangeOtherActions) {
  EXPECT_EQ(Decide(OnFailure::kReboot, true).kind, Kind::kReboot);
  EXPECT_EQ(Decide(OnFailure::kPoweroff, true).kind, Kind::kPoweroff);
}

TEST(RootfsPolicy, WarningEveryBootInInsecureMode) {
  RootfsConfig r;
  EXPECT_FALSE(InsecureModeWarning(r).has_value());
  r.insecure_dev_mode = true;
  ASSERT_TRUE(InsecureModeWarning(r).has_value());
  EXPECT_NE(InsecureModeWarning(r)->find("insecure-dev-mode"), std::string::npos);
}

// After a failed handover the shell must come from the initramfs (an fd
// PID 1 opened before), never from a path that now resolves in the OS.
TEST(RootfsPolicy, RecoveryShellAfterHandoverNeedsTheInitramfsCopy) {
  auto shell = Decide(OnFailure::kShell, true);
  ASSERT_EQ(shell.kind, Kind::kShell);
  auto kept = RecoveryAfterHandover(shell, /*have_initramfs_shell=*/true);
  EXPECT_EQ(kept.kind, Kind::kShell);
  EXPECT_EQ(kept.shell, std::vector<std::string>{"/bin/sh"});
  auto none = RecoveryAfterHandover(shell, /*have_initramfs_shell=*/false);
  EXPECT_EQ(none.kind, Kind::kPoweroff);
  EXPECT_TRUE(none.shell.empty());
  EXPECT_NE(none.note.find("/bin/sh was not opened in the initramfs"), std::string::npos)
      << none.note;
  // Other actions are untouched.
  auto reboot = Decide(OnFailure::kReboot, false);
  EXPECT_EQ(RecoveryAfterHandover(reboot, false).kind, Kind::kReboot);
  EXPECT_EQ(RecoveryAfterHandover(reboot, false).note, reboot.note);
}

}  // namespace
}  // namespace initos
