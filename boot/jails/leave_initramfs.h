// Jail mode on a real boot: PID 1 leaves the initramfs for a tmpfs copy of
// it before any jail starts. The kernel refuses pivot_root while the root is
// the initramfs (rootfs), and the chroot a jail would get instead can be
// undone by a jail holding CAP_SYS_ADMIN and CAP_SYS_CHROOT in its own user
// namespace (an OS jail does): setns into its own mount namespace resets
// its root to the namespace's, which would be the initramfs with every host
// mount on it. On a tmpfs root every jail pivots, and its old root (with
// the host's mounts) is detached; the rootfs left underneath is emptied.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "boot/handover/switch_root.h"

namespace initos {
inline namespace boot {

inline constexpr char kJailHostRoot[] = "/.initos-host";

// The steps after the copy (pure): move the API mounts and `keep_mounts`
// (e.g. /sysroot) into the new root, detach the rest, empty the
// initramfs, chdir, move the new root onto "/", chroot. No exec: PID 1
// goes on running.
Result<std::vector<SwitchRootStep>> PlanLeaveInitramfs(const std::string& mountinfo,
                                                       const std::vector<std::string>& keep_mounts);

// Mounts a tmpfs at root/.initos-host, copies the initramfs (its own
// filesystem only) into it and runs the plan. `root` is "/" in PID 1.
Result<void> LeaveInitramfs(const std::string& root, const std::vector<std::string>& keep_mounts);

}  // namespace boot
}  // namespace initos
