#include "boot/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/children.h"
#include "base/file.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/spawn.h"
#include "format/stage.h"

namespace initos {
inline namespace boot {

int PoweroffRequestSignal() {
  return SIGRTMIN + 4;
}
int RebootRequestSignal() {
  return SIGRTMIN + 5;
}
int HaltRequestSignal() {
  return SIGRTMIN + 3;
}

SignalAction ActionForSignal(const InitConfig& config, int sig) {
  if (sig == PoweroffRequestSignal()) return SignalAction::kPoweroff;
  if (sig == RebootRequestSignal()) return SignalAction::kReboot;
  if (sig == HaltRequestSignal()) return SignalAction::kHalt;
  auto it = config.signals.find(sig);
  if (it != config.signals.end()) return it->second;
  return SignalAction::kIgnore;
}

NextAction ShellOrPoweroff(const InitConfig& config, const std::string& why) {
  NextAction next;
  if (config.allow_shell && !config.shell.empty()) {
    next.kind = NextAction::Kind::kShell;
    next.reason = why + "; starting the emergency shell";
    return next;
  }
  next.kind = NextAction::Kind::kShutdown;
  next.shutdown = ShutdownKind::kPoweroff;
  next.reason = why + (config.allow_shell
                           ? "; init.shell is empty"
                           : "; the emergency shell is not allowed (init.allow_shell = false)");
  return next;
}

NextAction DecideOnMainExit(const InitConfig& config, const std::vector<double>& respawn_times,
                            double now, bool main_missing) {
  NextAction next;
  switch (config.on_exit) {
    case OnExit::kPoweroff:
      next.shutdown = ShutdownKind::kPoweroff;
      next.reason = "main program ended, init.on-exit = poweroff";
      return next;
    case OnExit::kReboot:
      next.shutdown = ShutdownKind::kReboot;
      next.reason = "main program ended, init.on-exit = reboot";
      return next;
    case OnExit::kHalt:
      next.shutdown = ShutdownKind::kHalt;
      next.reason = "main program ended, init.on-exit = halt";
      return next;
    case OnExit::kShell:
      return ShellOrPoweroff(config, "main program ended, init.on-exit = shell");
    case OnExit::kRespawn:
      break;
  }
  if (main_missing) return ShellOrPoweroff(config, "init.on-exit = respawn but init.main is empty");
  if (config.respawn_limit >= 0) {
    int recent = 0;
    for (double t : respawn_times) {
      if (now - t < config.respawn_window_s) ++recent;
    }
    if (recent >= config.respawn_limit) {
      return ShellOrPoweroff(
          config, "main program respawned " + std::to_string(recent) + " times within " +
                      std::to_string(config.respawn_window_s) + " s (init.respawn-limit)");
    }
  }
  next.kind = NextAction::Kind::kRespawn;
  next.delay_ms = config.respawn_delay_ms < 0 ? 0 : config.respawn_delay_ms;
  next.reason = "main program ended, init.on-exit = respawn";
  return next;
}

sigset_t HandledSignals() {
  sigset_t set;
  sigfillset(&set);
  for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT, SIGKILL, SIGSTOP}) {
    sigdelset(&set, s);
  }
  return set;
}

Result<unique_fd> BlockSignalsToFd() {
  sigset_t set = HandledSignals();
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return ErrnoError() << "sigprocmask";
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return ErrnoError() << "signalfd";
  return unique_fd(fd);
}

namespace {

// When a session leader with a controlling tty exits (the previous main
// program or shell), the kernel hangs up that tty: every open file of it,
// PID 1's included, then fails reads, writes and TIOCSCTTY with EIO. So each
// program gets the tty opened afresh, by the path behind PID 1's fd.
unique_fd ReopenTty(int tty_fd) {
  if (tty_fd < 0) return unique_fd();
  char path[256];
  std::string link = "/proc/self/fd/" + std::to_string(tty_fd);
  ssize_t n = ::readlink(link.c_str(), path, sizeof path - 1);
  if (n <= 0) return unique_fd();
  path[n] = '\0';
  auto fd = OpenFile(path, O_RDWR | O_NOCTTY);
  return fd.ok() ? std::move(*fd) : unique_fd();
}

}  // namespace

Supervisor::Supervisor(InitConfig config, SupervisorOptions options, unique_fd signal_fd)
    : config_(std::move(config)),
      options_(std::move(options)),
      signal_fd_(std::move(signal_fd)),
      loop_(signal_fd_.get(), /*reap_orphans=*/true) {}

Result<pid_t> Supervisor::SpawnOnConsole(const std::vector<std::string>& argv,
                                         const std::string& root, int exec_fd) {
  SpawnOptions so;
  so.argv = argv;
  so.chroot = root;
  so.exec_fd = exec_fd;
  so.env = options_.env;
  // Own session: a signal for the main program's group never hits PID 1.
  so.new_session = true;
  so.controlling_tty = options_.controlling_tty;
  so.stdin_fd = so.stdout_fd = so.stderr_fd = options_.tty_fd;
  unique_fd fresh = ReopenTty(options_.tty_fd);
  if (fresh.ok()) so.stdin_fd = so.stdout_fd = so.stderr_fd = fresh.get();
  auto pid = Spawn(so);
  if (!pid.ok() && so.controlling_tty && pid.error().code != ENOENT && pid.error().code != EACCES) {
    // A console that cannot be a controlling tty must not keep the program
    // from running: retry without job control.
    LOG(Warning) << "cannot start " << argv[0] << " with a controlling tty (" << pid.error().str()
                 << "), retrying without";
    so.controlling_tty = false;
    pid = Spawn(so);
  }
  return pid;
}

bool Supervisor::Decide(ShutdownKind kind, std::string reason) {
  result_.shutdown = kind;
  result_.reason = std::move(reason);
  return true;
}

bool Supervisor::StartMain() {
  if (config_.main.empty()) {
    LOG(Warning) << "no main program configured (init.main is empty): applying init.on-exit";
    return Apply(DecideOnMainExit(config_, respawn_times_, MonotonicSeconds(), true));
  }
  LOG(Info) << StartingMainLine(config_.main[0], MonotonicSeconds());
  auto pid = SpawnOnConsole(config_.main, options_.main_root, options_.main_exec_fd);
  if (!pid.ok()) {
    LOG(Error) << "cannot start main program " << config_.main[0]
               << (options_.main_root.empty() ? "" : " in " + options_.main_root) << ": "
               << pid.error().str();
    result_.main_status = 127 << 8;  // what a shell reports for "command not found"
    return Apply(DecideOnMainExit(config_, respawn_times_, MonotonicSeconds()));
  }
  main_is_shell_ = false;
  if (auto w = loop_.Watch(kMain, *pid); !w.ok()) LOG(Warning) << w.error().str();
  if (options_.on_main_started) {
    auto once = std::move(options_.on_main_started);
    options_.on_main_started = nullptr;
    once();
  }
  return false;
}

bool Supervisor::StartShell() {
  LOG(Notice) << "starting emergency shell: " << config_.shell[0];
  auto pid = SpawnOnConsole(config_.shell);
  if (!pid.ok()) {
    LOG(Error) << "cannot start the emergency shell " << config_.shell[0] << ": "
               << pid.error().str();
    return Decide(ShutdownKind::kPoweroff, "emergency shell could not start");
  }
  main_is_shell_ = true;
  if (auto w = loop_.Watch(kMain, *pid); !w.ok()) LOG(Warning) << w.error().str();
  return false;
}

bool Supervisor::Apply(const NextAction& next) {
  switch (next.kind) {
    case NextAction::Kind::kShutdown:
      return Decide(next.shutdown, next.reason);
    case NextAction::Kind::kShell:
      LOG(Warning) << next.reason;
      return StartShell();
    case NextAction::Kind::kRespawn:
      LOG(Info) << next.reason << ": restarting in " << next.delay_ms << " ms";
      loop_.SetDeadline(kMain, MonotonicSeconds() + next.delay_ms / 1000.0);
      return false;
  }
  return false;
}

bool Supervisor::OnTimer() {
  respawn_times_.push_back(MonotonicSeconds());
  return StartMain();
}

bool Supervisor::OnMainExit(int status) {
  result_.main_status = status;
  if (main_is_shell_) {
    LOG(Notice) << "emergency shell " << DescribeStatus(status);
    return Decide(ShutdownKind::kPoweroff, "emergency shell ended");
  }
  LOG(Notice) << "main program " << config_.main[0] << " " << DescribeStatus(status);
  return Apply(DecideOnMainExit(config_, respawn_times_, MonotonicSeconds()));
}

bool Supervisor::OnSignal(int sig) {
  SignalAction action = ActionForSignal(config_, sig);
  std::string sname = SignalName(sig);
  switch (action) {
    case SignalAction::kForward: {
      const pid_t main_pid = loop_.Pid(kMain);  // 0 once it ended
      if (main_pid <= 0) {
        LOG(Info) << sname << ": no main program to forward to";
        return false;
      }
      // The main program leads its own session and process group: signal the
      // whole group like a terminal would, the process alone if that fails.
      if (::kill(-main_pid, sig) != 0 && ::kill(main_pid, sig) != 0) {
        LOG(Warning) << "forwarding " << sname << " to " << main_pid << ": "
                     << std::strerror(errno);
      }
      return false;
    }
    case SignalAction::kPoweroff:
      return Decide(ShutdownKind::kPoweroff, sname + " received");
    case SignalAction::kReboot:
      return Decide(ShutdownKind::kReboot, sname + " received");
    case SignalAction::kHalt:
      return Decide(ShutdownKind::kHalt, sname + " received");
    case SignalAction::kIgnore:
      LOG(Debug) << sname << " ignored";
      return false;
  }
  return false;
}

SupervisorResult Supervisor::Run() {
  if (jails_) {
    LOG(Info) << "jail mode: starting " << jails_->config().jails.size() << " jail(s)";
    jails_->StartAll();
  } else if (StartMain()) {
    return result_;
  }
  Supervision::Events events;
  events.exited = [this](Supervision::ChildId id, int status) {
    if (jails_ && jails_->Owns(id)) {
      jails_->OnExit(id, status);
      return false;
    }
    return OnMainExit(status);
  };
  events.signal = [this](const signalfd_siginfo& si) {
    return OnSignal(static_cast<int>(si.ssi_signo));
  };
  events.deadline = [this](Supervision::ChildId id) {
    if (jails_ && jails_->Owns(id)) {
      jails_->OnDeadline(id);
      return false;
    }
    return OnTimer();
  };
  auto r = loop_.Run(events);
  if (!r.ok()) {
    LOG(Crit) << r.error().str();
    Decide(ShutdownKind::kPoweroff, "supervisor loop failed");
  }
  return result_;
}

}  // namespace boot
}  // namespace initos
