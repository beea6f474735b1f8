// What PID 1 does when the verified root cannot be mounted. Verified mode
// never boots anything unverified: the only outcomes are reboot, halt,
// poweroff, or - on development images that set rootfs.insecure-dev-mode -
// an emergency shell. Pure decisions, unit-tested.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "init/config.h"

namespace initos {

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

// The warning logged on every boot while insecure-dev-mode is on; nullopt when off.
std::optional<std::string> InsecureModeWarning(const RootfsConfig& rootfs);

const char* RootfsFailureKindName(RootfsFailureAction::Kind kind);

}  // namespace initos
