// PID 1's use of the rootfs stage: mount the verified root (when
// rootfs.image is set), make it a usable root for init.main (the kernel API
// filesystems bound in), and raise the anti-rollback record once the main
// program runs from it. In run mode init.main runs chrooted into the
// target and PID 1 stays in the initramfs; switch-root mode hands the
// target to the OS init instead (init/switch_root.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "boot/rootfs/rootfs_stage.h"
#include "format/config.h"

namespace initos {
inline namespace boot {

// rootfs.slots set: the A/B slot step (boot/rootfs/slot_boot.h).
// nullopt when rootfs.image is unset (the main program runs from the
// initramfs). Logs the insecure-dev-mode warning on every boot.
Result<std::optional<MountedRoot>> BootVerifiedRoot(const Config& config, const BootEnv& env);

// Directories bound (recursively) from PID 1's root into the new root so
// init.main sees the same /dev, /proc, /sys and /run.
std::vector<std::string> ApiFilesystems();

// Bind-mounts ApiFilesystems() of `from_root` into `target`, creating the
// mount points in the (writable) overlay when the image lacks them.
Result<void> BindApiFilesystems(const std::string& target, const std::string& from_root = "");

}  // namespace boot
}  // namespace initos
