// Orderly shutdown: stop every process (SIGTERM, grace period, SIGKILL), sync,
// unmount in reverse mount order, then power off / reboot / halt.
#pragma once

#include <string>
#include <string_view>

#include "format/shutdown_kind.h"

namespace initos {
inline namespace boot {

// RB_* for reboot(2).
int RebootCommand(ShutdownKind kind);

struct ShutdownOptions {
  int stop_timeout_ms = 5000;  // SIGTERM -> SIGKILL grace
  // PID 1 signals everything with kill(-1). Elsewhere (tests, `initos init`
  // not as PID 1) only our own descendants, found through /proc, are signalled.
  bool kill_all = true;
  bool unmount = true;      // unmount (or remount read-only) everything in mountinfo
  bool call_reboot = true;  // the final reboot(2); false: return after the rest
  std::string proc = "/proc";
};

// Logs "shutdown: KIND (reason)" and carries it out. Returns only when
// call_reboot is false, or when reboot(2) failed (logged; PID 1 must then
// hang rather than exit).
void Shutdown(ShutdownKind kind, std::string_view reason, const ShutdownOptions& options);

}  // namespace boot
}  // namespace initos
