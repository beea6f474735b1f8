// What PID 1 does when the verified root cannot be mounted. Verified mode
// never boots anything unverified: the only outcomes are reboot, halt,
// poweroff, or - on development images that set rootfs.insecure-dev-mode -
// an emergency shell. Pure decisions, unit-tested.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "format/config.h"

namespace initos {
inline namespace boot {

struct RootfsFailureAction {
  enum class Kind { kReboot, kHalt, kPoweroff, kShell };
  Kind kind = Kind::kReboot;
  int delay_s = 0;                 // pause first so the console shows why
  std::vector<std::string> shell;  // argv, with kShell
  std::string note;                // extra line to log ("" = none), e.g. why shell was refused
};

// rootfs.on-failure, except that "shell" needs rootfs.insecure-dev-mode and a
// non-empty init.shell; otherwise it is refused and falls back to reboot
// (fail closed: a shell on a production device is a way around verification).
RootfsFailureAction DecideRootfsFailure(const RootfsConfig& rootfs, const InitConfig& init);

// After the switch-root handover started, the initramfs is deleted and PID 1
// may already be chrooted into the OS: init.shell looked up by path would be
// a file the OS controls. The recovery shell then only runs from the file
// PID 1 opened in the initramfs beforehand (have_initramfs_shell); without
// it a kShell action becomes poweroff, with a note saying why.
RootfsFailureAction RecoveryAfterHandover(RootfsFailureAction action, bool have_initramfs_shell);

// The warning logged on every boot while insecure-dev-mode is on; nullopt when off.
std::optional<std::string> InsecureModeWarning(const RootfsConfig& rootfs);

const char* RootfsFailureKindName(RootfsFailureAction::Kind kind);

}  // namespace boot
}  // namespace initos
