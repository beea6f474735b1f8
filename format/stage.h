// Boot stage log lines. `initos analyse` and the QEMU tests parse them, so the
// format is fixed: "stage NAME done t=SECONDS" or
// "stage NAME failed t=SECONDS: ERROR", SECONDS = CLOCK_MONOTONIC, 6 decimals.
#pragma once

#include <string>
#include <string_view>

namespace initos {
inline namespace format {

// "12.345678": seconds with exactly 6 decimals.
std::string FormatSeconds(double t);
std::string StageDoneLine(std::string_view name, double t);
std::string StageFailedLine(std::string_view name, double t, std::string_view error);
// "starting main: ARGV0 t=SECONDS", logged right before the main program starts.
std::string StartingMainLine(std::string_view argv0, double t);

}  // namespace format
}  // namespace initos
