#include "base/supervision.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/spawn.h"

namespace initos {
namespace {

// Runs `body` in a forked child, since it blocks signals for its signalfd;
// returns the child's exit code (0 = every check passed, else the failed
// check's number).
template <typename F>
int InChild(F body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

unique_fd SignalFd(std::initializer_list<int> signals) {
  sigset_t set;
  ::sigemptyset(&set);
  for (int s : signals) ::sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  // Blocking on purpose: Supervision must make it non-blocking itself.
  return unique_fd(::signalfd(-1, &set, SFD_CLOEXEC));
}

pid_t Start(const std::string& script) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", script};
  auto pid = Spawn(o);
  return pid.ok() ? *pid : -1;
}

TEST(SupervisionTest, ReportsEachChildsExitInItsSlot) {
  EXPECT_EQ(InChild([] {
              unique_fd sfd = SignalFd({SIGCHLD});
              Supervision s(sfd.get(), /*reap_orphans=*/false);
              if (!s.Watch(1, Start("sleep 0.2; exit 7")).ok()) return 1;
              if (!s.Watch(2, Start("exit 3")).ok()) return 2;
              std::map<int, int> seen;
              Supervision::Events ev;
              ev.exited = [&](int id, int status) {
                seen[id] = WEXITSTATUS(status);
                return seen.size() == 2;
              };
              if (!s.Run(ev).ok()) return 3;
              if (seen[1] != 7 || seen[2] != 3) return 4;
              if (s.Pid(1) != 0) return 5;
              return 0;
            }),
            0);
}

TEST(SupervisionTest, ExtraFdsAreServedInTheSameLoopAndCanUnwatchThemselves) {
  EXPECT_EQ(InChild([] {
              unique_fd sfd = SignalFd({SIGCHLD});
              Supervision s(sfd.get(), /*reap_orphans=*/false);
              int p[2];
              if (::pipe2(p, O_CLOEXEC) != 0) return 1;
              unique_fd r(p[0]), w(p[1]);
              std::string got;
              s.WatchFd(r.get(), POLLIN, [&](short revents) {
                char buf[16];
                ssize_t n = (revents & POLLIN) ? ::read(r.get(), buf, sizeof(buf)) : 0;
                if (n <= 0) {
                  s.UnwatchFd(r.get());  // the writer closed: stop polling it
                  return false;
                }
                got.append(buf, n);
                return false;
              });
              if (!s.Watch(1, Start("sleep 0.3")).ok()) return 2;
              if (::write(w.get(), "hi", 2) != 2) return 3;
              w.reset();
              Supervision::Events ev;
              ev.exited = [](int, int) { return true; };
              if (!s.Run(ev).ok()) return 4;
              return got == "hi" ? 0 : 5;
            }),
            0);
}

TEST(SupervisionTest, DeadlinesFireInOrderAndCanBeReplaced) {
  EXPECT_EQ(InChild([] {
              unique_fd sfd = SignalFd({SIGCHLD});
              Supervision s(sfd.get(), false);
              double t0 = MonotonicSeconds();
              s.SetDeadline(1, t0 + 0.15);
              s.SetDeadline(2, t0 + 0.05);
              s.SetDeadline(3, t0 + 10);
              s.ClearDeadline(3);
              std::vector<int> order;
              Supervision::Events ev;
              ev.deadline = [&](int id) {
                order.push_back(id);
                return order.size() == 2;
              };
              if (!s.Run(ev).ok()) return 1;
              if (order != std::vector<int>{2, 1}) return 2;
              if (MonotonicSeconds() - t0 < 0.14) return 3;
              return 0;
            }),
            0);
}

TEST(SupervisionTest, SignalsReachTheHandlerAndThroughThePidfd) {
  EXPECT_EQ(InChild([] {
              unique_fd sfd = SignalFd({SIGCHLD, SIGUSR1});
              Supervision s(sfd.get(), false);
              if (!s.Watch(1, Start("sleep 30")).ok()) return 1;
              int status = -1;
              Supervision::Events ev;
              ev.signal = [&](const signalfd_siginfo& si) {
                // The policy: SIGUSR1 stops the child through its pidfd.
                if (si.ssi_signo == SIGUSR1 && !s.Signal(1, SIGTERM)) status = -2;
                return false;
              };
              ev.exited = [&](int, int st) {
                status = st;
                return true;
              };
              ::kill(::getpid(), SIGUSR1);
              if (!s.Run(ev).ok()) return 2;
              if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) return 3;
              if (s.Signal(1, SIGTERM)) return 4;  // nothing runs in the slot now
              return 0;
            }),
            0);
}

// PID 1 and subreapers: orphans are reaped on SIGCHLD, the watched child is
// still reported in its slot.
TEST(SupervisionTest, ReapsOrphansWhenAsked) {
  EXPECT_EQ(InChild([] {
              unique_fd sfd = SignalFd({SIGCHLD});
              pid_t orphan = Start("exit 0");
              Supervision s(sfd.get(), /*reap_orphans=*/true);
              if (!s.Watch(1, Start("sleep 0.3")).ok()) return 1;
              bool reported = false;
              Supervision::Events ev;
              ev.exited = [&](int id, int) {
                reported = id == 1;
                return true;
              };
              if (!s.Run(ev).ok()) return 2;
              if (!reported) return 3;
              // The unwatched child was reaped too: nothing is left to wait for.
              errno = 0;
              if (::waitpid(orphan, nullptr, WNOHANG) != -1 || errno != ECHILD) return 4;
              return 0;
            }),
            0);
}

}  // namespace
}  // namespace initos
