// Stub to be completed by the jail-config work: names and the chain argv.
#include "format/jail_config.h"

namespace initos {
inline namespace format {

std::string_view JailKindName(JailKind v) {
  switch (v) {
    case JailKind::kPrivileged: return "privileged";
    case JailKind::kUnprivileged: return "unprivileged";
    case JailKind::kVm: return "vm";
  }
  return "?";
}

std::string_view RestartPolicyName(RestartPolicy v) {
  switch (v) {
    case RestartPolicy::kNever: return "never";
    case RestartPolicy::kOnFailure: return "on-failure";
    case RestartPolicy::kAlways: return "always";
  }
  return "?";
}

std::string_view JailNetworkKindName(JailNetworkKind v) {
  switch (v) {
    case JailNetworkKind::kNone: return "none";
    case JailNetworkKind::kLoopback: return "loopback";
    case JailNetworkKind::kVeth: return "veth";
    case JailNetworkKind::kMacvlan: return "macvlan";
  }
  return "?";
}

bool JailRootfsIsDirectory(const JailConfig& jail) { return jail.rootfs.starts_with("/"); }

std::vector<std::string> JailChainArgv(const JailConfig& jail) {
  std::vector<std::string> argv;
  for (const auto& h : jail.helpers) argv.insert(argv.end(), h.begin(), h.end());
  argv.insert(argv.end(), jail.command.begin(), jail.command.end());
  return argv;
}

}  // namespace format
}  // namespace initos
