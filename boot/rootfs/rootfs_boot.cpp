#include "boot/rootfs/rootfs_boot.h"

#include <sys/mount.h>

#include "base/file.h"
#include "base/log.h"
#include "boot/rootfs/rootfs_policy.h"
#include "boot/rootfs/slot_boot.h"

namespace initos {
inline namespace boot {

Result<std::optional<MountedRoot>> BootVerifiedRoot(const Config& config, const BootEnv& env) {
  if (auto warning = InsecureModeWarning(config.rootfs)) LOG(Warning) << *warning;
  const bool slots = !config.rootfs.slots.empty();
  if (config.rootfs.image.empty() && !slots) {
    LOG(Info) << "rootfs: rootfs.image not set; the main program runs from the initramfs";
    return std::optional<MountedRoot>();
  }
  auto root = slots ? MountSlotRoot(config, env) : MountVerifiedRoot(config, env);
  if (!root.ok()) return root.error();
  auto bound = BindApiFilesystems(root->target);
  if (!bound.ok()) return bound.error();
  return std::optional<MountedRoot>(std::move(*root));
}

std::vector<std::string> ApiFilesystems() {
  return {"/dev", "/proc", "/sys", "/run"};
}

Result<void> BindApiFilesystems(const std::string& target, const std::string& from_root) {
  for (const std::string& dir : ApiFilesystems()) {
    std::string src = from_root + dir, dst = target + dir;
    auto made = MakeDirs(dst, 0755);
    if (!made.ok()) return Wrap(made.error(), "rootfs: mount point in the new root");
    if (::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return ErrnoError() << "rootfs: bind " << src << " into the new root at " << dst;
  }
  return {};
}

}  // namespace boot
}  // namespace initos
