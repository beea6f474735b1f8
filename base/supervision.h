// The one supervision core. PID 1's supervisor, the sidecar's sshd
// supervisor (and next the jail supervisor) keep only their policy: which
// children, when to restart, what a signal means. The waiting is here: one
// poll loop over the caller's signalfd, a pidfd per supervised child (no
// PID-reuse races: a pidfd names one process for good) and one deadline per
// child (a restart delay, a stop timeout).
#pragma once

#include <sys/signalfd.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace base {

class Supervision {
 public:
  using ChildId = int;  // the caller's name for a child slot (main, sshd, a jail)

  // Each returns true to end Run().
  struct Events {
    // A supervised child ended and was reaped; status as from waitpid.
    std::function<bool(ChildId, int wait_status)> exited;
    // A signal other than SIGCHLD arrived on the signalfd.
    std::function<bool(const signalfd_siginfo&)> signal;
    // The slot's deadline passed (it is cleared before the call).
    std::function<bool(ChildId)> deadline;
    // A zombie that was no supervised child was reaped (reap_orphans).
    std::function<void(pid_t, int wait_status)> orphan;
  };

  // signal_fd: the caller's signalfd, made non-blocking here (its mask decides what
  // arrives; SIGCHLD should be in it when reap_orphans). reap_orphans: PID 1
  // and subreapers reap every zombie on SIGCHLD, not only their own
  // children; otherwise children are reaped through their pidfds alone.
  Supervision(int signal_fd, bool reap_orphans);

  // Supervises pid in slot id (replacing what was there). A pid that
  // already exited is reported on the next Run() iteration.
  Result<void> Watch(ChildId id, pid_t pid);
  // pid in the slot, 0 when none runs there.
  pid_t Pid(ChildId id) const;
  // Signals the slot's process through its pidfd (never another process that
  // reused the pid). False when no process runs there or the signal failed.
  bool Signal(ChildId id, int sig);

  // Monotonic seconds (base/log.h MonotonicSeconds) at which deadline(id)
  // fires; one per slot, a later call replaces it.
  void SetDeadline(ChildId id, double at);
  void ClearDeadline(ChildId id);

  // An extra descriptor polled in the same loop (a control socket, a
  // client connection, a jail's console): `ready` gets the poll revents and
  // returns true to end Run(). The caller keeps the fd open until Unwatch.
  using FdHandler = std::function<bool(short revents)>;
  void WatchFd(int fd, short events, FdHandler ready);
  void UnwatchFd(int fd);

  // Until a handler returns true (ok) or poll fails (error).
  Result<void> Run(const Events& events);

  // Reaps what has exited right now, without waiting (reap_orphans): a
  // caller about to exit collects the zombies it was left.
  void ReapNow(const Events& events);

 private:
  struct Child {
    pid_t pid = 0;
    unique_fd pidfd;
  };
  bool Dispatch(const Events& events, pid_t pid, int status);

  int signal_fd_;
  bool reap_orphans_;
  std::map<ChildId, Child> children_;
  std::map<ChildId, double> deadlines_;
  struct Watched {
    short events;
    std::shared_ptr<FdHandler> ready;  // shared: a handler may unwatch itself
  };
  std::map<int, Watched> fds_;
};

}  // namespace base
}  // namespace initos
