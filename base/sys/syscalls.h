// Thin wrappers for the syscalls glibc 2.36 does not expose (after Chromium's
// sandbox/linux/services/syscall_wrappers.h). Each returns what the raw
// syscall returns (-1 and errno on failure); callers wrap them in Result.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>

namespace initos {
inline namespace base {
namespace sys {

// Loads a kernel module from an fd: no need to read the .ko into memory.
int FinitModule(int fd, const char* params, int flags);
// A pidfd refers to one process for good: no PID-reuse races when signalling.
int PidfdOpen(pid_t pid, unsigned flags);
// Signals exactly the process behind a pidfd.
int PidfdSendSignal(int pidfd, int sig, siginfo_t* info, unsigned flags);
// The new mount API: build a filesystem context, then attach it by fd.
int Fsopen(const char* fsname, unsigned flags);
int Fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux);
int Fsmount(int fd, unsigned flags, unsigned attr_flags);
int MoveMount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags);
int OpenTree(int dfd, const char* path, unsigned flags);
// mount_setattr (struct mount_attr from linux/mount.h): an idmapped mount
// shows a jail's root image owned by the jail's mapped root.
int MountSetattr(int dfd, const char* path, unsigned flags, void* attr, size_t size);
// pivot_root has no glibc wrapper; jails and the sidecar switch roots with it.
int PivotRoot(const char* new_root, const char* put_old);
// clone3 with CLONE_PIDFD/CLONE_INTO_CGROUP; struct clone_args from linux/sched.h.
long Clone3(void* args, size_t size);
// openat2 (struct open_how from linux/openat2.h): RESOLVE_IN_ROOT follows an
// OS image's absolute symlinks inside that image, not on the host.
int Openat2(int dfd, const char* path, void* how, size_t size);

}  // namespace sys
}  // namespace base
}  // namespace initos
