// Which parts of the OS root survive a reboot. The root overlay's upper
// layer is always a tmpfs: every boot starts from exactly the signed image.
// Only the directories in state.persistent (default /var and /home) get an
// overlay of their own whose upper layer lives on the state partition, in
// STATE/initos/persist/<escaped dir>/{upper,work}; each is mounted nosuid,
// nodev, and noexec unless listed in state.allow-exec. Without a state
// partition nothing persists. See docs/boot-verification.md, "What stays
// mutable".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace boot {

// Where the persistent layers live, relative to the state partition's root.
inline constexpr std::string_view kPersistDir = "initos/persist";
// The whole-root upper layer of older initos, ignored now.
inline constexpr std::string_view kLegacyUpperDir = "initos/overlay/upper";

struct PersistentMount {
  std::string dir;     // "/var/lib/x" as configured
  std::string escape;  // "var%2flib%2fx": one directory name under kPersistDir
  bool noexec = true;  // false when listed in state.allow-exec
  bool operator==(const PersistentMount&) const = default;
};

// One directory name for an absolute path: the leading '/' dropped, '%' and
// '/' (and ':', which overlayfs options treat specially) %-encoded, so two
// different paths never share a layer.
std::string EscapePersistentDir(std::string_view dir);

// Pure: the mounts for state.persistent/allow-exec, parents before children.
std::vector<PersistentMount> PlanPersistentMounts(const std::vector<std::string>& persistent,
                                                  const std::vector<std::string>& allow_exec);

// Mounts every planned directory on target+dir: lower = that directory of
// the verified lower layer (an empty directory under run_dir when the image
// lacks it, created in the root overlay as the mount point), upper/work
// beneath state_dir, created without following symlinks. A directory that
// the image has as a symlink or file is skipped (it stays volatile), logged.
Result<void> MountPersistentDirs(const std::vector<PersistentMount>& plan,
                                 const std::string& lower_dir, const std::string& state_dir,
                                 const std::string& target, const std::string& run_dir);

}  // namespace boot
}  // namespace initos
