// A jail's cgroup v2 directory: PARENT/NAME, created before the clone so
// the child starts inside it (CLONE_INTO_CGROUP), with the [[jail]]
// limits written first. Unprivileged jails get it delegated (systemd's
// rules: the directory and its cgroup.procs, cgroup.subtree_control and
// cgroup.threads owned by the jail's root) and see it as their cgroup root
// through their own cgroup namespace; the limit files stay host root's, so
// the jail can split its budget but never raise it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

// One write into the jail's cgroup directory.
struct CgroupWrite {
  std::string file;   // "memory.max"
  std::string value;  // "536870912"
  bool operator==(const CgroupWrite&) const = default;
};

// The limit files for `limits`, in a fixed order (pure).
std::vector<CgroupWrite> CgroupLimitWrites(const JailLimits& limits);

// The controller a limit file belongs to ("memory" for "memory.max").
std::string CgroupControllerOf(const std::string& file);

// parent (or, before it exists, its directory) is on cgroup2; else an error
// naming the fix (a unified hierarchy).
Result<void> CheckCgroup2(const std::string& parent);

// Any limit set (a jail without a cgroup could not honour it).
bool HasLimits(const JailLimits& limits);

// The controllers a jail's cgroup gets when its parent offers them.
inline constexpr const char* kJailControllers[] = {"memory", "pids", "cpu", "io"};

struct JailCgroup {
  std::string path;  // PARENT/NAME
  unique_fd dir;     // O_DIRECTORY, for CLONE_INTO_CGROUP
};

// Checks that `parent` lies on cgroup2 (statfs magic), creates it and
// enables the controllers it can (+memory +pids +cpu +io, where the level
// above offers them), replaces a stale PARENT/NAME, creates it, writes the
// limits and opens it. A limit whose controller is missing is an error
// naming the file and the fix.
Result<JailCgroup> CreateJailCgroup(const std::string& parent, const std::string& name,
                                    const JailLimits& limits);

// systemd's delegation: chown the directory and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads to uid/gid.
Result<void> DelegateCgroup(const std::string& path, uid_t uid, gid_t gid);

// Kills everything left in the cgroup (cgroup.kill, or SIGKILL to each
// pid of cgroup.procs on older kernels), waits until it is empty and
// removes it and the sub-cgroups a delegated jail made, deepest first.
Result<void> RemoveJailCgroup(const std::string& path);

// The cgroup at or below `path` whose cgroup.procs lists `pid`: where an
// exec joins a delegated jail (its root cgroup may have controllers on for
// its children, and then may hold no process itself: the jail's PID 1
// lives in a leaf, init.scope for systemd). `path` itself when not found.
std::string CgroupOfPidUnder(const std::string& path, pid_t pid);

}  // namespace jail
}  // namespace initos
