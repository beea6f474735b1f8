#include "boot/rootfs/rootfs_policy.h"

#include "format/shutdown_kind.h"

namespace initos {
inline namespace boot {

RootfsFailureAction DecideRootfsFailure(const RootfsConfig& rootfs, const InitConfig& init) {
  using Kind = RootfsFailureAction::Kind;
  RootfsFailureAction a;
  // A shell or a halt shows the message anyway; the delay only matters for a
  // reboot/poweroff that would wipe it off the screen.
  int delay = init.failure_delay_s > 0 ? init.failure_delay_s : 0;
  switch (rootfs.on_failure) {
    case OnFailure::kHalt:
      a.kind = Kind::kHalt;
      return a;
    case OnFailure::kPoweroff:
      a.kind = Kind::kPoweroff;
      a.delay_s = delay;
      return a;
    case OnFailure::kReboot:
      a.kind = Kind::kReboot;
      a.delay_s = delay;
      return a;
    case OnFailure::kShell:
      break;
  }
  if (!rootfs.insecure_dev_mode) {
    a.kind = Kind::kReboot;
    a.delay_s = delay;
    a.note =
        "rootfs.on-failure = \"shell\" refused: it needs rootfs.insecure-dev-mode = true "
        "(development images only); rebooting instead";
    return a;
  }
  if (init.shell.empty()) {
    a.kind = Kind::kReboot;
    a.delay_s = delay;
    a.note = "rootfs.on-failure = \"shell\" but init.shell is empty; rebooting instead";
    return a;
  }
  a.kind = Kind::kShell;
  a.shell = init.shell;
  a.note = "INSECURE: starting the recovery shell " + init.shell[0] +
           " after a failed verification (rootfs.insecure-dev-mode); reboot when it exits";
  return a;
}

std::optional<std::string> InsecureModeWarning(const RootfsConfig& rootfs) {
  if (!rootfs.insecure_dev_mode) return std::nullopt;
  return "rootfs.insecure-dev-mode is ON: an image no trusted key signed boots and a failed root "
         "verification may drop to a shell. "
         "Never ship this configuration";
}

const char* RootfsFailureKindName(RootfsFailureAction::Kind kind) {
  switch (kind) {
    case RootfsFailureAction::Kind::kReboot:
      return ShutdownKindName(ShutdownKind::kReboot).data();
    case RootfsFailureAction::Kind::kHalt:
      return ShutdownKindName(ShutdownKind::kHalt).data();
    case RootfsFailureAction::Kind::kPoweroff:
      return ShutdownKindName(ShutdownKind::kPoweroff).data();
    case RootfsFailureAction::Kind::kShell:
      return "shell";
  }
  return "?";
}

RootfsFailureAction RecoveryAfterHandover(RootfsFailureAction a, bool have_initramfs_shell) {
  if (a.kind != RootfsFailureAction::Kind::kShell || have_initramfs_shell) return a;
  a.kind = RootfsFailureAction::Kind::kPoweroff;
  std::string shell = a.shell.empty() ? std::string("init.shell") : a.shell[0];
  a.note = (a.note.empty() ? "" : a.note + "; ") + "the recovery shell " + shell +
           " was not opened in the initramfs before the handover, and after it the path would "
           "name a file of the OS: powering off instead; put " +
           shell + " (a static binary) in the initramfs";
  a.shell.clear();
  return a;
}

}  // namespace boot
}  // namespace initos
