#include "base/sys/syscalls.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace initos {
inline namespace base {
namespace sys {

int FinitModule(int fd, const char* params, int flags) {
  return static_cast<int>(::syscall(SYS_finit_module, fd, params, flags));
}

int PidfdOpen(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

int PidfdSendSignal(int pidfd, int sig, siginfo_t* info, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

int Fsopen(const char* fsname, unsigned flags) {
  return static_cast<int>(::syscall(SYS_fsopen, fsname, flags));
}

int Fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

int Fsmount(int fd, unsigned flags, unsigned attr_flags) {
  return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attr_flags));
}

int MoveMount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
  return static_cast<int>(::syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}

int OpenTree(int dfd, const char* path, unsigned flags) {
  return static_cast<int>(::syscall(SYS_open_tree, dfd, path, flags));
}

int MountSetattr(int dfd, const char* path, unsigned flags, void* attr, size_t size) {
  return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, size));
}

int PivotRoot(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

long Clone3(void* args, size_t size) {
  return ::syscall(SYS_clone3, args, size);
}

int Openat2(int dfd, const char* path, void* how, size_t size) {
  return static_cast<int>(::syscall(SYS_openat2, dfd, path, how, size));
}

}  // namespace sys
}  // namespace base
}  // namespace initos
