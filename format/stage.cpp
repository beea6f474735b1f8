#include "format/stage.h"

#include <charconv>
#include <string>

namespace initos {
inline namespace format {

// "%.6f" without printf (whose floating-point code PID 1 would otherwise
// run, and QEMU's TCG translate, only for these stamps): to_chars rounds
// exactly as printf does and ignores the locale.
std::string FormatSeconds(double t) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, t, std::chars_format::fixed, 6);
  return std::string(buf, r.ptr);
}

std::string StageDoneLine(std::string_view name, double t) {
  return "stage " + std::string(name) + " done t=" + FormatSeconds(t);
}

std::string StageFailedLine(std::string_view name, double t, std::string_view error) {
  return "stage " + std::string(name) + " failed t=" + FormatSeconds(t) + ": " + std::string(error);
}

std::string StartingMainLine(std::string_view argv0, double t) {
  return "starting main: " + std::string(argv0) + " t=" + FormatSeconds(t);
}

}  // namespace format
}  // namespace initos
