// A VM jail's QEMU confined the way Firecracker's jailer confines its VMM:
// QEMU is a large program parsing guest-controlled data, so it runs with as
// little as the VM needs.
//
//   parent (supervisor, root)            child (clone3 into the VM's cgroup)
//   cgroup: create, limits (memory.max   becomes root of its user namespace
//     checked against the guest memory)  setgroups: the device groups only
//   uid_map "0 HOST 1", gid_map "0 HOST  root: the read-only skeleton
//     1" + "N GID 1" per device group      (/run/initos-vm-root) bound onto
//                                          itself, /usr (+ lib/bin links)
//                                          read-only, /dev tmpfs with null,
//                                          zero, urandom + the listed
//                                          devices, fresh /proc; pivot_root
//                                        hostname; every capability dropped
//                                          (bounding set too, root's exec
//                                          rule off); no_new_privs
//                                        the listed fds moved to 3, 4, ...,
//                                          every other fd closed; exec QEMU
//                                          (which installs -sandbox on)
//
// New user, mount, pid, ipc, uts and cgroup namespaces, and a new network
// namespace unless the VM uses QEMU's user-mode network (which needs the
// host's). QEMU runs as one unprivileged host uid/gid (the first of the
// jail's pool range) that owns nothing on the host.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"
#include "jail/mount_plan.h"

namespace initos {
inline namespace jail {

// The root skeleton every VM jail's QEMU gets (read-only, shared): mount
// points only; 0755 on a path the unprivileged uid can traverse.
inline constexpr const char* kVmRootDir = "/run/initos-vm-root";

// What QEMU itself takes beyond the guest's memory (its code, TCG's
// translation buffer as it fills, virtio rings, I/O buffers): memory.max
// must leave at least this much above the guest memory. The same figure as
// the load-time check (format/jail_check.cpp), so a config that loads starts.
inline constexpr uint64_t kVmQemuOverhead = 64ull << 20;

struct VmSandboxSpec {
  std::string name;               // jail name: hostname, cgroup PARENT/NAME, messages
  std::vector<std::string> argv;  // QEMU's; argv[0] absolute under /usr
  std::vector<int> fds;           // host fds QEMU gets as 3, 4, ... (in order)
  int console_fd = -1;            // QEMU's stdin, stdout and stderr (the serial console)
  uint32_t host_id = 0;           // QEMU's host uid and gid (never 0)
  bool new_netns = true;          // false for network = "user" (slirp needs the host's)
  // Host device nodes bound into QEMU's /dev: /dev/kvm, /dev/vfio/vfio,
  // /dev/vfio/GROUP. A node QEMU's uid cannot open through its group gets
  // that group mapped in; a VFIO group node is chowned to host_id.
  std::vector<std::string> devices;
  bool bind_sys = false;  // VFIO: QEMU reads the devices' sysfs (read-only bind)
  // > 0: QEMU's RLIMIT_MEMLOCK (soft and hard), set by the parent: VFIO pins
  // all guest memory, and QEMU's uid cannot raise the limit itself.
  uint64_t memlock_bytes = 0;
  std::string cgroup_parent;  // "" = no cgroup of its own (development hosts)
  JailLimits limits;
  uint64_t guest_memory = 0;  // bytes, for the memory.max check
  std::string root_dir = kVmRootDir;
};

struct SandboxedQemu {
  pid_t pid = 0;
  unique_fd pidfd;
  std::string cgroup;  // "" without one
};

// ---- pure ----

// CLONE_NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS|NEWCGROUP, + CLONE_NEWNET.
uint64_t VmSandboxCloneFlags(bool new_netns);

// Top-level host directories the skeleton binds (real directories on the
// host) and the ones it links ("lib" -> "usr/lib" on merged-/usr Debian).
struct VmRootLayout {
  std::vector<std::string> bind_dirs;                         // "usr", ...
  std::vector<std::pair<std::string, std::string>> symlinks;  // name, link text
  bool ld_so_cache = false;                                   // bind /etc/ld.so.cache
};

// The mounts inside QEMU's root (targets absolute inside it).
std::vector<MountStep> VmSandboxMountPlan(const VmRootLayout& layout,
                                          const std::vector<std::string>& devices, bool bind_sys);

// memory.max, when set, must exceed the guest memory plus kVmQemuOverhead:
// else QEMU would be OOM-killed the first time the guest touches its RAM.
Result<void> CheckVmMemoryMax(const std::string& jail, const JailLimits& limits,
                              uint64_t guest_memory);

// "0 HOST 1\n" and, for each extra host gid, "I GID 1\n" with I = 1, 2, ...
std::string VmGidMap(uint32_t host_id, const std::vector<gid_t>& device_gids);

// ---- executors ----

// The host's layout of /usr, /lib*, /bin, /sbin, /etc/ld.so.cache, and the
// skeleton at `dir` for it (created once, root-owned, 0755).
Result<VmRootLayout> MakeVmRootSkeleton(const std::string& dir);

// Creates the cgroup, spawns QEMU confined as above, returns once it
// exec'd. A failure removes the cgroup and names the step.
Result<SandboxedQemu> SpawnSandboxedQemu(const VmSandboxSpec& spec);

}  // namespace jail
}  // namespace initos
