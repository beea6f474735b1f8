#include "base/supervision.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <vector>

#include "base/children.h"
#include "base/log.h"
#include "base/resident.h"
#include "base/sys/syscalls.h"

#ifndef P_PIDFD
#define P_PIDFD 3  // linux/wait.h; glibc 2.36 lacks it
#endif

namespace initos {
inline namespace base {
namespace {

// waitid's siginfo as the status waitpid would have returned.
int WaitStatusOf(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return (info.si_status & 0xff) << 8;
    case CLD_KILLED:
      return info.si_status & 0x7f;
    case CLD_DUMPED:
      return (info.si_status & 0x7f) | 0x80;
  }
  return 0;
}

}  // namespace

Supervision::Supervision(int signal_fd, bool reap_orphans)
    : signal_fd_(signal_fd), reap_orphans_(reap_orphans) {
  // Run() drains the signalfd until EAGAIN: it must not block.
  int flags = ::fcntl(signal_fd_, F_GETFL);
  if (flags >= 0) ::fcntl(signal_fd_, F_SETFL, flags | O_NONBLOCK);
}

Result<void> Supervision::Watch(ChildId id, pid_t pid) {
  Child& c = children_[id];
  c.pid = pid;
  c.pidfd.reset(sys::PidfdOpen(pid, 0));
  // Without a pidfd (a kernel before 5.3) the slot still works where
  // orphans are reaped: the SIGCHLD sweep reports it by pid.
  if (!c.pidfd.ok()) return ErrnoError() << "pidfd_open " << pid;
  return {};
}

pid_t Supervision::Pid(ChildId id) const {
  auto it = children_.find(id);
  return it == children_.end() ? 0 : it->second.pid;
}

bool Supervision::Signal(ChildId id, int sig) {
  auto it = children_.find(id);
  if (it == children_.end()) return false;
  if (!it->second.pidfd.ok()) return ::kill(it->second.pid, sig) == 0;
  return sys::PidfdSendSignal(it->second.pidfd.get(), sig, nullptr, 0) == 0;
}

void Supervision::SetDeadline(ChildId id, double at) {
  deadlines_[id] = at;
}

void Supervision::ClearDeadline(ChildId id) {
  deadlines_.erase(id);
}

void Supervision::WatchFd(int fd, short events, FdHandler ready) {
  fds_[fd] = Watched{events, std::make_shared<FdHandler>(std::move(ready))};
}

void Supervision::UnwatchFd(int fd) {
  fds_.erase(fd);
}

bool Supervision::Dispatch(const Events& events, pid_t pid, int status) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->second.pid != pid) continue;
    ChildId id = it->first;
    children_.erase(it);
    return events.exited && events.exited(id, status);
  }
  if (events.orphan) events.orphan(pid, status);
  return false;
}

void Supervision::ReapNow(const Events& events) {
  for (const Reaped& r : ReapExited()) Dispatch(events, r.pid, r.status);
}

Result<void> Supervision::Run(const Events& events) {
  std::vector<pollfd> fds;
  std::vector<ChildId> ids;
  for (;;) {
    // Deadlines first: one that passed while a handler ran fires now.
    double now = MonotonicSeconds();
    int timeout_ms = -1;
    for (auto it = deadlines_.begin(); it != deadlines_.end();) {
      if (it->second <= now) {
        ChildId id = it->first;
        deadlines_.erase(it);
        if (events.deadline && events.deadline(id)) return {};
        it = deadlines_.begin();  // the handler may have changed the map
        now = MonotonicSeconds();
        continue;
      }
      int ms = static_cast<int>(std::ceil((it->second - now) * 1000));
      if (timeout_ms < 0 || ms < timeout_ms) timeout_ms = ms;
      ++it;
    }
    fds.assign(1, pollfd{signal_fd_, POLLIN, 0});
    ids.clear();
    for (const auto& [id, child] : children_) {
      if (!child.pidfd.ok()) continue;
      fds.push_back(pollfd{child.pidfd.get(), POLLIN, 0});
      ids.push_back(id);
    }
    size_t first_extra = fds.size();
    for (const auto& [fd, w] : fds_) fds.push_back(pollfd{fd, w.events, 0});
    // After the first second asleep start-up is over: give back the code and
    // tables it mapped (idle Rss, docs/performance.md). Not sooner, so a
    // short run (`initos reap -- true`) never faults them in twice.
    const bool release = !StartupPagesReleased() && (timeout_ms < 0 || timeout_ms > 1000);
    int n = ::poll(fds.data(), fds.size(), release ? 1000 : timeout_ms);
    if (n == 0 && release) {
      ReleaseStartupPagesOnce();
      continue;  // the loop recomputes the deadlines
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError() << "supervision poll";
    }
    // Extra descriptors: a handler may watch or unwatch others, so each is
    // looked up again before it is called.
    for (size_t i = first_extra; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      auto it = fds_.find(fds[i].fd);
      if (it == fds_.end()) continue;
      std::shared_ptr<FdHandler> ready = it->second.ready;
      if ((*ready)(fds[i].revents)) return {};
    }
    // A readable pidfd: that child ended; reap exactly it.
    for (size_t i = 1; i < first_extra; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      auto it = children_.find(ids[i - 1]);
      if (it == children_.end()) continue;  // dispatched meanwhile
      siginfo_t info{};
      if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(it->second.pidfd.get()), &info,
                   WEXITED | WNOHANG) != 0 ||
          info.si_pid == 0)
        continue;  // not reapable yet, or reaped by the orphan sweep
      if (Dispatch(events, it->second.pid, WaitStatusOf(info))) return {};
    }
    signalfd_siginfo si{};
    while ((fds[0].revents & POLLIN) && ::read(signal_fd_, &si, sizeof(si)) == sizeof(si)) {
      if (static_cast<int>(si.ssi_signo) == SIGCHLD) {
        if (!reap_orphans_) continue;
        // One SIGCHLD may stand for many exits: reap until nothing is left.
        for (const Reaped& r : ReapExited())
          if (Dispatch(events, r.pid, r.status)) return {};
      } else if (events.signal && events.signal(si)) {
        return {};
      }
    }
  }
}

}  // namespace base
}  // namespace initos
