// Orderly shutdown: stop every process (SIGTERM, grace period, SIGKILL), sync,
// unmount in reverse mount order, then power off / reboot / halt.
#pragma once

#include <string>
#include <string_view>

namespace initos {
inline namespace boot {

enum class ShutdownKind { kPoweroff, kReboot, kHalt };

// "poweroff", "reboot", "halt": the word in the "shutdown: WORD" log line.
std::string_view ShutdownName(ShutdownKind kind);

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
