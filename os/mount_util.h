// Mounts PID 1 makes while assembling the root: the verified EROFS image,
// an overlay with a writable upper layer, tmpfs, and the ext4 state
// partition.
//
// Uses the new mount API (fsopen/fsconfig/fsmount/move_mount) because it
// names the option the kernel rejected (the fs context's message log),
// where mount(2) only says EINVAL; falls back to mount(2) on ENOSYS.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace os {

struct MountRequest {
  std::string fstype;  // "erofs", "overlay", "tmpfs", "ext4"
  std::string source;  // device path, or a name for virtual filesystems
  std::string target;
  // Filesystem options as key/value; "" value = a flag such as "ro".
  std::vector<std::pair<std::string, std::string>> options;
  bool read_only = false;        // both superblock ("ro") and mount
  unsigned long attr_flags = 0;  // extra MS_NOSUID/MS_NODEV/MS_NOEXEC
};

// The comma-separated data string for mount(2) (pure; tested).
std::string MountDataString(const MountRequest& req);

// Mounts req (new API first, mount(2) if the kernel lacks it).
Result<void> Mount(const MountRequest& req);

// Read-only EROFS from a block device (the dm-verity device).
Result<void> MountErofs(const std::string& device, const std::string& target);
// overlay: lower read-only, upper/work on the same writable filesystem.
Result<void> MountOverlay(const std::string& lower, const std::string& upper,
                          const std::string& work, const std::string& target);
// tmpfs with e.g. "mode=0755", "size=50%".
Result<void> MountTmpfs(const std::string& target, const std::string& mode = "0755",
                        const std::string& size = "");

// The ext4 state partition. A device without any filesystem is reported as
// such; creating one (state.create) is init/state_partition.h's job, done
// before this is called.
Result<void> MountExt4State(const std::string& device, const std::string& target);

}  // namespace os
}  // namespace initos
