// Starting one container jail (privileged or unprivileged) as an ordered
// list of small steps, one file per namespace kind (nsjail's contain.cc,
// user.cc, net.cc): the supervisor (jail/supervisor.h) calls StartContainer
// and then only watches the pidfd.
//
//   parent                          child (clone3 into the jail's cgroup)
//   cgroup.cpp: create, limits      waits for the parent
//   user.cpp: write uid/gid maps →  mounts.cpp: rootfs, /proc, /sys, /dev,
//   net.cpp: host side                devpts, mounts, masks; pivot_root
//                                   uts: hostname; net.cpp: jail side
//                                   rlimits; setgroups/gid/uid
//                                   capabilities.cpp; no_new_privs
//                                   seccomp (last); close_range; execve
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

struct ContainerSpec {
  JailConfig config;
  std::string rootfs;  // host path of the prepared root (overlay merged dir), exists
  IdRange uid_map;     // unprivileged: resolved range (never host 0)
  IdRange gid_map;
  std::string cgroup_parent = "/sys/fs/cgroup/initos";  // the jail's cgroup is PARENT/NAME
  // ("" = no cgroup of its own: development hosts without cgroup2 only; the
  // jail then sees the supervisor's cgroup as its root, read-only for an
  // unprivileged jail since nothing there is delegated to it.)
  int console_fd = -1;  // pty slave (or any fd): the jail's stdin, stdout, stderr
  // The initos binary as a sealed read-only memfd (see SealedSelf): exec'd
  // as the jail's PID 1 when config.reaper, so /proc/self/exe inside never
  // names a writable host file (runc CVE-2019-5736).
  int reaper_exec_fd = -1;
  std::vector<std::string> extra_env;  // added to config.env (container=initos, ...)
};

struct StartedContainer {
  pid_t pid = 0;  // in the supervisor's pid namespace
  unique_fd pidfd;
  std::string cgroup;  // the jail's cgroup directory
};

// Runs every step; any failure kills what was started, removes the cgroup
// and returns one line naming the step and the fix.
Result<StartedContainer> StartContainer(const ContainerSpec& spec);

// Removes the jail's (empty) cgroup after it exited; kills leftovers first.
void CleanUpContainer(const ContainerSpec& spec, const StartedContainer& started);

// The initos binary (/proc/self/exe) copied into a memfd, sealed against
// writes, CLOEXEC: what a jail's reaper is exec'd from.
Result<unique_fd> SealedSelf();
// The same for any file (a VM jail's kernel): a copy nobody can change
// under QEMU, which opens it as /proc/self/fd/N (memfd inodes are 0777).
Result<unique_fd> SealedCopy(const std::string& path, const char* memfd_name);

// `initos jail exec`: a process entering the running jail through its pidfd
// (setns on every namespace it has), into its cgroup, with its uid/gid,
// capabilities and seccomp policy, never more. Returns the new pid.
struct ExecSpec {
  const ContainerSpec* container = nullptr;
  int jail_pidfd = -1;
  std::vector<std::string> argv;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
};
Result<pid_t> ExecInContainer(const ExecSpec& spec);

}  // namespace jail
}  // namespace initos
