#include "format/shutdown_kind.h"

namespace initos {
inline namespace format {
namespace {

struct KindName {
  ShutdownKind kind;
  std::string_view name;
};
constexpr KindName kNames[] = {{ShutdownKind::kPoweroff, "poweroff"},
                               {ShutdownKind::kReboot, "reboot"},
                               {ShutdownKind::kHalt, "halt"},
                               {ShutdownKind::kKexec, "kexec"}};

}  // namespace

std::string_view ShutdownKindName(ShutdownKind kind) {
  for (const auto& n : kNames)
    if (n.kind == kind) return n.name;
  return "poweroff";
}

Result<ShutdownKind> ParseShutdownKind(std::string_view word) {
  for (const auto& n : kNames)
    if (n.name == word) return n.kind;
  return Err() << "unknown shutdown verb '" << word
               << "': expected poweroff, reboot, halt or kexec";
}

}  // namespace format
}  // namespace initos
