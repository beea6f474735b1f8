// A boot timeline from a boot log, for `initos analyze`: the kernel until
// it runs /init, each PID-1 stage from its "stage NAME done|failed t=" line,
// and the moments that matter to a user (main program or OS init started,
// the OS init's first line, the sidecar up). Pure: takes the log text as a
// serial console prints it ("[   1.234567] message" lines; other lines are
// skipped), so a console capture and /dev/kmsg (converted) read the same.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

struct TimelineSpan {
  std::string name;  // "kernel", "early", "mounts", ..., "switch-root"
  double start = 0;  // seconds since the kernel started
  double end = 0;
  bool failed = false;  // "stage NAME failed"
};

struct TimelineMark {
  std::string name;  // "main program started", "OS init started", ...
  double at = 0;
};

struct BootTimeline {
  std::vector<TimelineSpan> spans;  // in boot order, the kernel first
  std::vector<TimelineMark> marks;
};

// Errors name what is missing ("no 'Run /init' line: is this a boot log of
// an initos initramfs?").
Result<BootTimeline> ParseBootLog(std::string_view log);

// One line per span and mark, durations in seconds.
std::string FormatTimeline(const BootTimeline& timeline);

// A standalone SVG (one bar per span, a line per mark), like
// `systemd-analyze plot`: open it in a browser.
std::string TimelineSvg(const BootTimeline& timeline);

}  // namespace format
}  // namespace initos
