// Executes a jail's mount plan (jail/mount_plan.h) in the child, inside its
// new mount namespace, then switches root: / made recursively slave (no
// mount leaks back to the host), the rootfs bound onto itself, every step's
// target resolved within the rootfs with openat2(RESOLVE_IN_ROOT) and
// mounted through that fd (/proc/self/fd/N), pivot_root(".", ".") and the
// old root detached.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "jail/mount_plan.h"

namespace initos {
inline namespace jail {

// Opens `path` (absolute, inside the jail) beneath root_fd as O_PATH,
// following symlinks only within the root. With `create`, missing
// directories on the way are made (mkdirat never follows a link) and the
// last component is created as `type` (kLikeSource: like `like_fd`).
Result<unique_fd> ResolveInRoot(int root_fd, const std::string& path, bool create,
                                MountStep::TargetType type, int like_fd = -1);

// Runs one step with root_fd as the jail's root (not yet pivoted).
Result<void> RunMountStep(int root_fd, const MountStep& step);

// Child step: the whole sequence above, ending in pivot_root. On an
// initramfs root pivot_root is refused; the move-and-chroot fallback is
// taken only when chroot_fallback_ok (the jail keeps neither CAP_SYS_ADMIN
// nor CAP_SYS_CHROOT, without which a chroot cannot be undone). PID 1 in jail
// mode leaves the initramfs first (boot/jails/leave_initramfs.h), so its
// jails always pivot.
Result<void> SetUpJailRoot(const std::string& rootfs, const std::vector<MountStep>& plan,
                           bool chroot_fallback_ok);

}  // namespace jail
}  // namespace initos
