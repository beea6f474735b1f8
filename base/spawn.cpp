#include "base/spawn.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "base/sys/syscalls.h"
#include "base/unique_fd.h"

extern char** environ;

namespace initos {
inline namespace base {
namespace {

// Which step failed in the child; sent with errno so the parent can name it.
// Values from kFirstStep on are SpawnOptions::steps[value - kFirstStep].
enum class Stage : int {
  kSetsid = 1,
  kSetpgid,
  kDup,
  kCtty,
  kTcsetpgrp,
  kChdir,
  kExec,
  kChroot,
  kCloseRange,
  kFirstStep = 100,
};

// The report a failed child writes: this header, then `message_size` bytes
// of the failed step's own message (child steps only).
struct ChildFailure {
  int stage;
  int err;
  uint32_t message_size;
};
constexpr uint32_t kMaxStepMessage = 4096;

const char* StageName(Stage s) {
  switch (s) {
    case Stage::kSetsid:
      return "setsid";
    case Stage::kSetpgid:
      return "setpgid";
    case Stage::kDup:
      return "redirect fds for";
    case Stage::kCtty:
      return "TIOCSCTTY on stdin for";
    case Stage::kTcsetpgrp:
      return "tcsetpgrp on stdin for";
    case Stage::kChdir:
      return "chdir for";
    case Stage::kExec:
      return "exec";
    case Stage::kChroot:
      return "chroot for";
    case Stage::kCloseRange:
      return "close_range for";
    case Stage::kFirstStep:
      break;
  }
  return "spawn";
}

// Everything the child needs, built before the clone: after it (possibly in
// a multi-threaded parent, and on the fast path in the parent's own memory)
// the child may only make system calls: it must not allocate, and must not
// write anything of the parent's but the fields marked below.
struct ChildPlan {
  const char* file = nullptr;  // what is executed (argv[0] of the options)
  std::vector<char*> argv;
  std::vector<char*> envp;
  char** env = nullptr;
  // execvp's search, done by the child itself so that it neither needs
  // `environ` pointed at `env` (a write into the parent's memory on the fast
  // path) nor allocates: the PATH of `env` ("/bin:/usr/bin" without one), and
  // the argv of the /bin/sh fallback for an executable without "#!" (ENOEXEC).
  const char* path = nullptr;
  std::vector<char*> script_argv;  // [1] is written by the child: the file found
  int src_fds[3] = {-1, -1, -1};
  // parent_step: the child blocks reading go_read until the parent has run
  // it (one byte) or gave up (EOF: the child exits, the parent kills it).
  int go_read = -1;
  int go_write = -1;
};

// Reports the failed step and errno through the close-on-exec pipe, then exits.
[[noreturn]] void ChildFail(int pipe_fd, Stage stage) {
  ChildFailure f{static_cast<int>(stage), errno, 0};
  ssize_t unused = ::write(pipe_fd, &f, sizeof(f));
  (void)unused;
  ::_exit(127);
}

// A child step failed: its errno and its own message.
[[noreturn]] void StepFail(int pipe_fd, size_t index, const Error& e) {
  std::string msg = e.message.substr(0, kMaxStepMessage);  // the parent adds strerror(code)
  ChildFailure f{static_cast<int>(Stage::kFirstStep) + static_cast<int>(index), e.code,
                 static_cast<uint32_t>(msg.size())};
  std::string report(reinterpret_cast<const char*>(&f), sizeof(f));
  report += msg;
  (void)WriteFully(pipe_fd, report.data(), report.size());
  ::_exit(127);
}

// SpawnOptions::inherit_fds onto 3, 4, ...: every source is first copied
// above the target range (a source may sit on another's target), the
// status pipe too (it must outlive the moves); returns the pipe's new fd.
// No allocation: runs in the child.
int MoveInheritedFds(const std::vector<int>& fds, int pipe_fd) {
  const int top = 3 + static_cast<int>(fds.size());
  if (pipe_fd < top) {
    int moved = ::fcntl(pipe_fd, F_DUPFD_CLOEXEC, top);
    if (moved < 0) ChildFail(pipe_fd, Stage::kDup);
    pipe_fd = moved;  // the old number is a target below, or closed on exec
  }
  int tmp[kMaxInheritFds];
  for (size_t i = 0; i < fds.size(); ++i) {
    tmp[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, top);
    if (tmp[i] < 0) ChildFail(pipe_fd, Stage::kDup);
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (::dup2(tmp[i], 3 + static_cast<int>(i)) < 0) ChildFail(pipe_fd, Stage::kDup);
    ::close(tmp[i]);
  }
  return pipe_fd;
}

// execvp(plan.file) with plan.env and plan.path, as glibc's execvpe does it
// (same order, errors and /bin/sh fallback); returns with errno set.
void ExecSearch(const ChildPlan& plan) {
  auto exec = [&plan](const char* file) {
    ::execve(file, plan.argv.data(), plan.env);
    if (errno == ENOEXEC) {
      char** script = const_cast<char**>(plan.script_argv.data());
      script[1] = const_cast<char*>(file);
      ::execve(script[0], script, plan.env);
      errno = ENOEXEC;  // what the caller is told: the file, not /bin/sh
    }
  };
  const char* file = plan.file;
  if (std::strchr(file, '/') != nullptr) {
    exec(file);
    return;
  }
  const size_t file_len = std::strlen(file) + 1;  // with its NUL
  if (file_len > NAME_MAX + 1) {
    errno = ENAMETOOLONG;
    return;
  }
  // Sized like glibc's (a variable-length array there): a fixed
  // PATH_MAX-sized one would cost the child's stack more pages.
  const size_t path_len = ::strnlen(plan.path, PATH_MAX - 1) + 1;
  char* buffer = static_cast<char*>(__builtin_alloca(path_len + file_len));
  bool got_eacces = false;
  for (const char* p = plan.path;;) {
    const char* end = ::strchrnul(p, ':');
    if (static_cast<size_t>(end - p) < path_len) {
      // "dir/file", or "file" (the current directory) for an empty entry.
      char* at = static_cast<char*>(std::memcpy(buffer, p, end - p)) + (end - p);
      if (end > p) *at++ = '/';
      std::memcpy(at, file, file_len);
      exec(buffer);
      switch (errno) {
        case EACCES:
          got_eacces = true;
          [[fallthrough]];
        case ENOENT:
        case ESTALE:
        case ENOTDIR:
        case ENODEV:
        case ETIMEDOUT:
          break;  // not here (or not for us): the next directory
        default:
          return;  // found, but it failed to run
      }
    }
    if (*end == '\0') break;
    p = end + 1;
  }
  if (got_eacces) errno = EACCES;
}

// Runs in the child (forked, or on the fast path sharing the parent's
// memory until exec); never returns.
[[noreturn]] void RunChild(const SpawnOptions& o, const ChildPlan& plan, int pipe_fd) {
  if (plan.go_read >= 0) {
    ::close(plan.go_write);
    char go = 0;
    ssize_t n;
    do {
      n = ::read(plan.go_read, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(127);  // the parent step failed; the parent reaps us
    ::close(plan.go_read);
  }
  if (o.new_session) {
    if (::setsid() < 0) ChildFail(pipe_fd, Stage::kSetsid);
  } else if (o.new_process_group) {
    if (::setpgid(0, 0) < 0) ChildFail(pipe_fd, Stage::kSetpgid);
  }

  // Copy the sources above 2 first, so a source that is itself 0..2 (say
  // stdout_fd == 0) is not clobbered by an earlier dup2, and so dup2 always
  // creates a fresh descriptor without FD_CLOEXEC.
  int tmp[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (plan.src_fds[i] < 0) continue;
    tmp[i] = ::fcntl(plan.src_fds[i], F_DUPFD_CLOEXEC, 3);
    if (tmp[i] < 0) ChildFail(pipe_fd, Stage::kDup);
  }
  for (int i = 0; i < 3; ++i) {
    if (tmp[i] < 0) continue;
    if (::dup2(tmp[i], i) < 0) ChildFail(pipe_fd, Stage::kDup);
    ::close(tmp[i]);
  }

  if (o.new_session && o.controlling_tty) {
    if (::ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0) ChildFail(pipe_fd, Stage::kCtty);
  }
  // Signals are still all blocked here (the parent blocked them around fork),
  // so a background group calling tcsetpgrp is not stopped by SIGTTOU.
  if (o.foreground && (o.new_process_group || o.new_session) && ::isatty(STDIN_FILENO)) {
    if (::tcsetpgrp(STDIN_FILENO, ::getpgrp()) < 0 && errno != ENOTTY && errno != ENXIO) {
      ChildFail(pipe_fd, Stage::kTcsetpgrp);
    }
  }
  if (!o.chroot.empty()) {
    if (::chroot(o.chroot.c_str()) < 0) ChildFail(pipe_fd, Stage::kChroot);
    if (::chdir("/") < 0) ChildFail(pipe_fd, Stage::kChdir);
  }
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) < 0) ChildFail(pipe_fd, Stage::kChdir);
  for (size_t i = 0; i < o.steps.size(); ++i) {
    Result<void> r = o.steps[i].run();
    if (!r.ok()) StepFail(pipe_fd, i, r.error());
  }
  if (!o.inherit_fds.empty()) pipe_fd = MoveInheritedFds(o.inherit_fds, pipe_fd);
  const unsigned keep_below = 3 + static_cast<unsigned>(o.inherit_fds.size());
  if ((o.close_other_fds || !o.inherit_fds.empty()) &&
      ::close_range(keep_below, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    ChildFail(pipe_fd, Stage::kCloseRange);

  if (o.signals) {
    // Only what the caller lists: exec resets handlers and keeps SIG_IGN.
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (int sig : o.signals->defaulted) ::sigaction(sig, &sa, nullptr);
    sa.sa_handler = SIG_IGN;
    for (int sig : o.signals->ignored) ::sigaction(sig, &sa, nullptr);
    ::sigprocmask(SIG_SETMASK, &o.signals->mask, nullptr);
  } else {
    ResetSignals();
  }
  if (o.exec_fd >= 0) {
    ::syscall(SYS_execveat, o.exec_fd, "", plan.argv.data(), plan.env, AT_EMPTY_PATH);
  } else {
    ExecSearch(plan);
  }
  ChildFail(pipe_fd, Stage::kExec);
}

struct ChildStart {
  const SpawnOptions* options;
  const ChildPlan* plan;
  int pipe_fd;
};

int ChildEntry(void* arg) {
  const auto* start = static_cast<const ChildStart*>(arg);
  RunChild(*start->options, *start->plan, start->pipe_fd);
}

// Enough for RunChild and ExecSearch (a few frames and a buffer of at most
// PATH_MAX + NAME_MAX); only the pages the child touches become resident.
constexpr size_t kChildStackSize = 64 * 1024;

// The fast path, as glibc's posix_spawn starts a child: CLONE_VM |
// CLONE_VFORK, so there is no copy of the page tables and no copy-on-write
// fault in the parent afterwards; the parent sleeps until the child has
// exec'd or exited. The child runs on a stack of its own inside this frame,
// which nothing else uses meanwhile.
[[gnu::noinline]] pid_t CloneVfork(ChildStart* start) {
  alignas(64) char stack[kChildStackSize];
  return ::clone(ChildEntry, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, start);
}

struct FailureReport {
  ChildFailure failure{};
  std::string message;  // a child step's own message, "" otherwise
};

// Reads the child's failure report: nullopt when the pipe closed empty
// (exec succeeded and closed it). timeout_ms < 0 waits as long as it takes;
// on expiry the error code is ETIMEDOUT.
Result<std::optional<FailureReport>> ReadFailure(int fd, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string got;
  char buf[512];
  for (;;) {
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return ErrnoErrorCode(ETIMEDOUT) << "child did not reach exec";
      struct pollfd p = {fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
      if (r < 0 && errno != EINTR) return ErrnoError() << "poll spawn status pipe";
      if (r <= 0) continue;
    }
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read spawn status pipe";
    if (n == 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.size() > sizeof(ChildFailure) + kMaxStepMessage)
      return Err() << "spawn status pipe: report too long";
  }
  if (got.empty()) return std::optional<FailureReport>();
  FailureReport r;
  if (got.size() < sizeof(ChildFailure)) return Err() << "short read from spawn status pipe";
  std::memcpy(&r.failure, got.data(), sizeof(ChildFailure));
  if (got.size() != sizeof(ChildFailure) + r.failure.message_size)
    return Err() << "spawn status pipe: malformed report";
  r.message = got.substr(sizeof(ChildFailure));
  return std::optional<FailureReport>(std::move(r));
}

}  // namespace

void ResetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  // SIGKILL/SIGSTOP and the libc-internal real-time signals refuse with
  // EINVAL; that is fine, they cannot have a disposition to reset.
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
}

Result<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) return Err() << "spawn: empty argv";
  if (options.inherit_fds.size() > kMaxInheritFds)
    return Err() << "spawn " << options.argv[0] << ": more than " << kMaxInheritFds
                 << " inherited fds";
  for (int fd : options.inherit_fds)
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0)
      return Err() << "spawn " << options.argv[0] << ": inherited fd " << fd << " is not open";

  ChildPlan plan;
  plan.file = options.argv[0].c_str();
  for (const std::string& a : options.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  if (!options.argv0.empty()) plan.argv[0] = const_cast<char*>(options.argv0.c_str());
  plan.argv.push_back(nullptr);
  if (options.env) {
    for (const std::string& e : *options.env) plan.envp.push_back(const_cast<char*>(e.c_str()));
    plan.envp.push_back(nullptr);
    plan.env = plan.envp.data();
  } else {
    plan.env = environ;
  }
  plan.path = "/bin:/usr/bin";  // glibc's default when there is no PATH
  for (char** e = plan.env; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) {
      plan.path = *e + 5;
      break;
    }
  }
  plan.script_argv.push_back(const_cast<char*>("/bin/sh"));
  plan.script_argv.push_back(nullptr);  // the file, filled in by the child
  plan.script_argv.insert(plan.script_argv.end(), plan.argv.begin() + 1, plan.argv.end());
  plan.src_fds[0] = options.stdin_fd;
  plan.src_fds[1] = options.stdout_fd;
  plan.src_fds[2] = options.stderr_fd;

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return ErrnoError() << "pipe2 for spawn";
  unique_fd read_end(fds[0]);
  unique_fd write_end(fds[1]);
  unique_fd go_read, go_write;
  if (options.parent_step) {
    if (::pipe2(fds, O_CLOEXEC) < 0) return ErrnoError() << "pipe2 for spawn";
    go_read.reset(fds[0]);
    go_write.reset(fds[1]);
    plan.go_read = go_read.get();
    plan.go_write = go_write.get();
  }
  const bool use_clone3 =
      options.clone_flags != 0 || options.cgroup_fd >= 0 || options.pidfd_out != nullptr;
  // The fast path (CloneVfork) whenever the child only runs the built-in
  // steps: a ChildStep may allocate and a parent_step needs the parent
  // running while the child waits, and with a start timeout the parent must
  // stay awake to enforce it (a vfork parent sleeps until exec).
  const bool use_vfork = !use_clone3 && options.steps.empty() && !options.parent_step &&
                         options.start_timeout.count() == 0;
  int child_pidfd = -1;
  struct clone_args args {};
  args.flags = options.clone_flags;
  if (options.cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(options.cgroup_fd);
  }
  if (options.pidfd_out != nullptr) {
    args.flags |= CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&child_pidfd);
  }
  args.exit_signal = SIGCHLD;

  // A start timeout kills the child's group: make it its own.
  SpawnOptions limited_options;
  const SpawnOptions* o = &options;
  if (options.start_timeout.count() > 0 && !options.new_session && !options.new_process_group) {
    limited_options = options;
    limited_options.new_process_group = true;
    o = &limited_options;
  }
  // Block everything across the clone so the child never runs one of the
  // parent's handlers before its signals are reset.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid;
  if (use_vfork) {
    ChildStart start{o, &plan, write_end.get()};
    pid = CloneVfork(&start);
  } else {
    // clone3 without a stack returns in the child like fork (glibc 2.36 has
    // no clone3 wrapper; its pid cache is gone since 2.25, so getpid is right).
    pid = use_clone3 ? static_cast<pid_t>(sys::Clone3(&args, sizeof(args))) : ::fork();
    if (pid == 0) RunChild(*o, plan, write_end.get());
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0)
    return ErrnoErrorCode(fork_errno) << (use_clone3  ? "clone3 for "
                                          : use_vfork ? "clone for "
                                                      : "fork for ")
                                      << options.argv[0];
  unique_fd pidfd(child_pidfd);

  write_end.reset();
  if (options.parent_step) {
    go_read.reset();
    Result<void> step = options.parent_step(pid);
    if (!step.ok()) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return step.error();
    }
    char go = 1;
    if (::write(go_write.get(), &go, 1) != 1) {
      int err = errno;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return ErrnoErrorCode(err) << "start " << options.argv[0] << " after the parent step";
    }
    go_write.reset();
  }
  const bool limited = options.start_timeout.count() > 0;
  auto failure = ReadFailure(
      read_end.get(),
      limited ? static_cast<int>(std::min<long long>(options.start_timeout.count(), 1 << 30)) : -1);
  if (failure.ok() && !failure->has_value()) {
    if (options.pidfd_out != nullptr) *options.pidfd_out = std::move(pidfd);
    return pid;
  }

  // The child failed before or at exec (or we cannot tell, or it hangs, and
  // then it must not run on unsupervised): collect it so no zombie is left.
  if (!failure.ok()) {
    ::kill(-pid, SIGKILL);  // its own group when new_session/new_process_group
    ::kill(pid, SIGKILL);
  }
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (!failure.ok()) {
    if (failure.error().code == ETIMEDOUT)
      return Err() << options.argv[0] << " did not start within "
                   << FormatTimeout(options.start_timeout) << " (killed it)";
    return failure.error();
  }
  const FailureReport& f = **failure;
  int stage = f.failure.stage;
  if (stage >= static_cast<int>(Stage::kFirstStep)) {
    size_t index = static_cast<size_t>(stage - static_cast<int>(Stage::kFirstStep));
    std::string name = index < options.steps.size() ? options.steps[index].name : "child step";
    if (!f.message.empty())
      return ErrnoErrorCode(f.failure.err)
             << name << " for " << options.argv[0] << ": " << f.message;
    return ErrnoErrorCode(f.failure.err) << name << " for " << options.argv[0];
  }
  return ErrnoErrorCode(f.failure.err)
         << StageName(static_cast<Stage>(stage)) << " " << options.argv[0];
}

namespace {

Error KillGroupAndReap(pid_t pid, const std::string& name, std::chrono::milliseconds timeout) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // in case it left its group
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return Err() << name << " did not finish within " << FormatTimeout(timeout)
               << " (killed it and its process group)";
}

}  // namespace

Result<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout, const std::string& name) {
  using Clock = std::chrono::steady_clock;
  const bool limited = timeout.count() > 0;
  const Clock::time_point deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, limited ? WNOHANG : 0);
    if (w == pid) return status;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoError() << "waitpid " << name;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return KillGroupAndReap(pid, name, timeout);
    std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
  }
}

std::string FormatTimeout(std::chrono::milliseconds timeout) {
  long long ms = timeout.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%03lld", ms / 1000, ms % 1000);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s + " s";
}

Result<Finished> SpawnAndWait(SpawnOptions options, bool merge_stderr,
                              std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const bool limited = timeout.count() > 0;
  const Clock::time_point deadline = Clock::now() + timeout;
  // Its own group, so a timeout also kills what it started (a hook's
  // children would otherwise keep the output pipe open).
  if (limited && !options.new_session) options.new_process_group = true;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError() << "pipe";
  unique_fd rd(fds[0]), wr(fds[1]);
  options.stdout_fd = wr.get();
  if (merge_stderr) options.stderr_fd = wr.get();
  auto pid = Spawn(options);
  wr.reset();  // the child holds the only write end: EOF when it is done
  if (!pid.ok()) return pid.error();
  auto remaining_ms = [&]() -> int {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
  };

  Finished f;
  bool timed_out = false;
  char buf[4096];
  for (;;) {  // output until EOF (or the deadline)
    int wait_ms = -1;
    if (limited) {
      wait_ms = remaining_ms();
      if (wait_ms == 0) {
        timed_out = true;
        break;
      }
    }
    struct pollfd p = {rd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError() << "poll output of " << options.argv.at(0);
    if (r == 0) continue;
    ssize_t n = ::read(rd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF (or a read error: the exit status still tells)
    f.output.append(buf, static_cast<size_t>(n));
  }
  if (timed_out) return KillGroupAndReap(*pid, options.argv.at(0), timeout);
  auto left = limited
                  ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                  : std::chrono::milliseconds::zero();
  if (limited && left.count() <= 0) left = std::chrono::milliseconds(1);
  auto status = WaitForExit(*pid, left, options.argv.at(0));
  if (!status.ok()) {
    // A timeout names the whole limit, not what was left of it.
    if (limited && status.error().code == 0)
      return Err() << options.argv.at(0) << " did not finish within " << FormatTimeout(timeout)
                   << " (killed it and its process group)";
    return status.error();
  }
  f.wait_status = *status;
  return f;
}

}  // namespace base
}  // namespace initos
