#include "format/stage.h"

#include <cstdio>

namespace initos {
inline namespace format {

std::string FormatSeconds(double t) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", t);
  return buf;
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
