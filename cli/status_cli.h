// `initos status` and `initos logs`: what an admin in the SSH sidecar (or in
// the OS) asks first. status reads the boot status record PID 1 wrote
// (init/boot_status.h) and the sidecar supervisor's age from /proc; logs
// prints InitOS' lines from the kernel log. The parsing is pure and takes
// text, so tests feed it fake /proc files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "format/boot_status.h"

namespace initos {
inline namespace cli {

int StatusMain(const std::vector<std::string>& args);
int LogsMain(const std::vector<std::string>& args);
// `initos analyze [LOG] [--svg FILE]`: the boot timeline of a console
// capture or of /dev/kmsg (format/boot_timeline.h).
int AnalyzeMain(const std::vector<std::string>& args);

// Field 22 (starttime, clock ticks after boot) of /proc/PID/stat. The comm
// field may hold spaces and ')', so fields are counted after the last ')'.
std::optional<uint64_t> ParseStatStartTime(std::string_view stat);
// First number of /proc/uptime ("12345.67 2345.89\n").
std::optional<double> ParseUptimeSeconds(std::string_view uptime);
// /proc/PID/cmdline (NUL-separated) whose argv[0] is "@initos-sidecar".
bool IsSidecarCmdline(std::string_view cmdline);
// 42s, 1m23s, 2h03m04s, 3d04h05m06s.
std::string FormatDuration(double seconds);
// Seconds since the oldest "@initos-sidecar" process in proc_dir started;
// nullopt when none runs (or /proc cannot tell).
std::optional<double> SidecarUptime(const std::string& proc_dir, long ticks_per_second);

struct FoundStatus {
  std::string path;
  BootStatus status;
};
// ROOT/run/initos/status only (in the sidecar: its own copy; the OS's record
// under /sysroot is writable by root in the OS and never read). A record that
// exists but does not parse is an error naming it, not "no record".
Result<FoundStatus> FindBootStatus(const std::string& root);

std::string FormatStatusText(const FoundStatus& s, std::optional<double> sidecar_uptime);
// rootfs.slots: both slots from the boot-state record on the state
// partition (DescribeBootState), indented under "slots:"; a record that does
// not load is one line saying why.
std::string FormatSlotsText(const BootStatus& s, const std::string& state_dir);
std::string FormatStatusJson(const FoundStatus& s, std::optional<double> sidecar_uptime);

}  // namespace cli
}  // namespace initos
