// Handing the machine over from the initramfs to the verified OS root
// (init.mode = "switch-root"), as util-linux switch_root does it but split
// into a PURE planner (tested on sample mountinfo) and an executor that runs
// the planned steps below an injectable root directory, so a root test can run
// the whole handover in a private mount namespace against a temp tree.
//
// The steps, in order:
//   1. move /dev, /proc, /sys, /run onto the new root (MS_MOVE takes their
//      submounts along: /dev/pts, /sys/fs/cgroup, /run/initos/state, ...);
//   2. lazily detach any other initramfs mount (it would be hidden under the
//      new root and pin the initramfs; a loop device keeps its file open);
//   3. delete the initramfs contents (it is RAM that the OS could use),
//      never crossing a mount point and never touching kept paths;
//   4. chdir into the new root, move it onto "/", chroot(".");
//   5. exec the OS init.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace boot {

struct SwitchRootStep {
  enum class Kind {
    kMoveMount,   // mount(from, to, MS_MOVE)
    kDetach,      // umount2(from, MNT_DETACH)
    kDeleteTree,  // delete everything below `from`, same filesystem only, except keep
    kChdir,       // chdir(from)
    kMoveRoot,    // mount(".", "/", MS_MOVE) after kChdir into the new root
    kChroot,      // chroot("."), chdir("/")
    kExec,        // execv(from, argv) inside the new root
  };
  Kind kind;
  std::string from;
  std::string to;
  std::vector<std::string> keep;  // kDeleteTree: absolute paths left in place
  std::vector<std::string> argv;  // kExec

  // One line for the boot log, e.g. "move /dev -> /sysroot/dev".
  std::string str() const;
};

struct SwitchRootInput {
  std::string new_root = "/sysroot";  // absolute; must be a mount point
  std::string mountinfo;              // /proc/self/mountinfo text
  std::vector<std::string> keep;      // absolute paths never deleted (sidecar files, ...)
  // Mounts moved into the new root when present, parents before children.
  std::vector<std::string> api_mounts = {"/dev", "/proc", "/sys", "/run"};
  std::string init;               // OS init, absolute path inside the new root
  std::vector<std::string> argv;  // its argv; empty: {init}
};

// The ordered steps (pure). Fails, naming the fix, when new_root is not a
// mount point or init is not an absolute path.
Result<std::vector<SwitchRootStep>> PlanSwitchRoot(const SwitchRootInput& input);

// Mount points listed in mountinfo text, unescaped ("\040" -> " "), in order.
std::vector<std::string> MountPointsFromMountInfo(std::string_view mountinfo);

// mountinfo text as seen with `root` as "/": only the mounts at or below
// root, with the prefix removed (root "/" returns the text unchanged). Lets
// the planner run on a test tree.
std::string MountInfoBelow(std::string_view mountinfo, const std::string& root);

// Picks the OS init inside new_root_dir (a host path): `configured` if set
// (config init.os-init / initos.init.os-init=), else the first executable of
// /sbin/init, /lib/systemd/systemd, /etc/init, /bin/init. Symlinks resolve
// inside the new root (Debian's /sbin/init -> /lib/systemd/systemd is
// absolute). The error says what was searched, so PID 1 can apply its
// failure policy with a clear message instead of panicking.
Result<std::string> FindOsInit(const std::string& new_root_dir, const std::string& configured);

struct SwitchRootHooks {
  // Replaces the real execv (tests check the result instead). Returns only on
  // failure; the default execs with the current environment.
  std::function<Result<void>(const std::string& path, const std::vector<std::string>& argv)> exec;
  // Called once before the first step changes anything: from then on the
  // initramfs may be gone (PID 1's recovery shell must not be looked up by
  // path any more).
  std::function<void()> on_start;
};

// Runs the steps with every path prefixed by `root` ("/" in PID 1, a temp
// dir in tests). kChroot really chroots, so tests run this in a forked child.
// Deleting only happens when the tree is on tmpfs/ramfs (never on a disk, if
// the plan is ever wrong). Stops at the first failing step; returns only on
// failure (or from the exec hook).
Result<void> ExecuteSwitchRoot(const std::string& root, const std::vector<SwitchRootStep>& steps,
                               const SwitchRootHooks& hooks = {});

// Deletes everything below dir_fd that is on the same filesystem (st_dev),
// except `keep` (paths relative to dir_fd's top, "/etc/x" style) and the
// directories leading to them. Returns how many entries were removed.
Result<size_t> DeleteTreeSameFs(int dir_fd, const std::vector<std::string>& keep);

}  // namespace boot
}  // namespace initos
