#include "boot/secure_boot.h"

#include "os/efivarfs.h"

namespace initos {
inline namespace boot {

EfiBootInfo ProbeEfiBoot(const std::string& root, bool mount, const std::string& modules_root) {
  std::string problem;
  if (mount && IsEfiBoot(root)) {
    auto m = MountEfivarfs(root, modules_root);
    if (!m.ok()) problem = m.error().str();
  }
  EfiVarsInput in = ReadEfiVars(root);
  if (!problem.empty()) in.efivarfs_problem = problem;
  return DecodeEfiBoot(in);
}

std::string_view TrustModeName(bool development) {
  return development ? "development" : "verified";
}

std::string SecureBootLine(const EfiBootInfo& info, bool development) {
  return "secure boot: " + EfiBootSummary(info) + ", " +
         (development ? "DEVELOPMENT MODE (rootfs.insecure-dev-mode)" : "verified mode");
}

}  // namespace boot
}  // namespace initos
