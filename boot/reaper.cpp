// Reaper mode: PID 1 of a container (or a subreaper) that runs one program,
// forwards signals to it and reaps every zombie, exiting with the program's
// exit code. Behaves like tini: same options, messages and exit codes.
#include "boot/reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "base/spawn.h"
#include "base/supervision.h"
#include "boot/reaper_options.h"

extern char** environ;

namespace initos {
inline namespace boot {
namespace {

// Like tini: FATAL always and WARN at verbosity >= 1 go to stderr; INFO and
// DEBUG (verbosity >= 2 / 3) to stdout.
class Reporter {
 public:
  explicit Reporter(int verbosity) : verbosity_(verbosity) {}
  void Fatal(const std::string& m) const { Print(stderr, "FATAL", m); }
  void Warn(const std::string& m) const {
    if (verbosity_ > 0) Print(stderr, "WARN ", m);
  }
  void Info(const std::string& m) const {
    if (verbosity_ > 1) Print(stdout, "INFO ", m);
  }
  void Debug(const std::string& m) const {
    if (verbosity_ > 2) Print(stdout, "DEBUG", m);
  }

 private:
  static void Print(FILE* f, const char* level, const std::string& m) {
    std::fprintf(f, "[%s tini (%d)] %s\n", level, static_cast<int>(::getpid()), m.c_str());
    std::fflush(f);
  }
  int verbosity_;
};

std::map<std::string, std::string> TiniEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    if (kv.rfind("TINI_", 0) != 0) continue;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

std::string ProgramName() {
  return std::string(program_invocation_short_name) == "tini" ? "tini" : "initos reap";
}

// Every signal the loop collects: all but the synchronous faults (which are
// about the reaper itself, and must stay deadly) and job-control TTIN/TTOU.
sigset_t CollectedSignals() {
  sigset_t set;
  sigfillset(&set);
  for (int sig : {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU}) {
    sigdelset(&set, sig);
  }
  return set;
}

// Handing the terminal to the child's group can leave the reaper in the
// background; it must not be stopped for printing a message then. What the
// two were before goes into `child`, which gets them back (as with tini).
void IgnoreTtySignals(ChildSignals* child) {
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  for (int sig : {SIGTTIN, SIGTTOU}) {
    struct sigaction old {};
    ::sigaction(sig, &ign, &old);
    (old.sa_handler == SIG_IGN ? child->ignored : child->defaulted).push_back(sig);
  }
}

bool CanReap() {
  if (::getpid() == 1) return true;
  int bit = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &bit) == 0 && bit == 1;
}

class Reaper {
 public:
  explicit Reaper(const ReaperOptions& o) : o_(o), log_(o.verbosity) {}

  int Run() {
    // What the child gets back, as tini does: the mask and the TTIN/TTOU
    // dispositions the reaper found. It changes no other disposition (it
    // collects signals through a signalfd), and signals it inherited as
    // ignored stay ignored across fork and exec by themselves.
    ChildSignals inherited;
    const sigset_t collected = CollectedSignals();
    if (::sigprocmask(SIG_SETMASK, &collected, &inherited.mask) < 0) {
      log_.Fatal(std::string("sigprocmask failed: '") + std::strerror(errno) + "'");
      return 1;
    }
    IgnoreTtySignals(&inherited);
    if (o_.parent_death_signal && ::prctl(PR_SET_PDEATHSIG, o_.parent_death_signal) < 0) {
      log_.Fatal("Failed to set up parent death signal");
      return 1;
    }
    if (o_.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
      log_.Fatal(std::string("Failed to register as child subreaper: ") + std::strerror(errno));
      return 1;
    }
    if (!CanReap()) {
      // tini's own words: scripts look for them.
      log_.Warn(
          "Tini is not running as PID 1 and isn't registered as a child subreaper.\n"
          "Zombie processes will not be re-parented to Tini, so zombie reaping won't work.\n"
          "To fix the problem, use the -s option or set the environment variable TINI_SUBREAPER "
          "to register Tini as a child subreaper, or run Tini as PID 1.");
    }

    SpawnOptions so;
    so.argv = o_.command;
    so.new_process_group = true;  // so -g and the terminal address the child's group
    so.foreground = true;
    so.signals = inherited;
    auto pid = Spawn(so);
    if (!pid.ok()) {
      log_.Fatal("exec " + o_.command[0] + " failed: " + std::strerror(pid.error().code));
      return ExecFailureExitCode(pid.error().code);
    }
    child_ = *pid;
    log_.Info("Spawned child process '" + o_.command[0] + "' with pid '" + std::to_string(child_) +
              "'");
    return Loop(collected);
  }

 private:
  int Loop(const sigset_t& collected) {
    unique_fd sfd(::signalfd(-1, &collected, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sfd.ok()) {
      log_.Fatal(std::string("signalfd failed: ") + std::strerror(errno));
      return 1;
    }
    // The reaper's policy on the one supervision core: forward every signal,
    // reap every zombie (it is PID 1 or a subreaper), exit with the child.
    constexpr Supervision::ChildId kChild = 0;
    Supervision loop(sfd.get(), /*reap_orphans=*/true);
    if (auto w = loop.Watch(kChild, child_); !w.ok()) log_.Debug(w.error().str());
    bool failed = false;
    Supervision::Events events;
    events.exited = [this](Supervision::ChildId, int status) {
      exit_code_ = ReaperExitCode(status, o_.remap_to_zero);
      if (WIFSIGNALED(status)) {
        log_.Info(std::string("Main child exited with signal (with signal '") +
                  ::strsignal(WTERMSIG(status)) + "')");
      } else {
        log_.Info("Main child exited normally (with status '" +
                  std::to_string(WEXITSTATUS(status)) + "')");
      }
      return true;
    };
    events.signal = [this, &failed](const signalfd_siginfo& si) {
      failed = !Forward(static_cast<int>(si.ssi_signo));
      return failed;
    };
    events.orphan = [this](pid_t p, int) {
      if (o_.warn_on_reap) {
        log_.Warn("Reaped zombie process with pid=" + std::to_string(p));
      } else {
        log_.Debug("Reaped child with pid: '" + std::to_string(p) + "'");
      }
    };
    auto r = loop.Run(events);
    if (!r.ok()) {
      log_.Fatal(r.error().str());
      return 1;
    }
    if (failed) return 1;
    loop.ReapNow(events);  // zombies that exited with the child, as tini does
    return exit_code_;
  }

  bool Forward(int sig) {
    log_.Debug(std::string("Passing signal: '") + ::strsignal(sig) + "'");
    pid_t target = o_.kill_process_group ? -child_ : child_;
    if (::kill(target, sig) == 0) return true;
    if (errno == ESRCH) {
      log_.Warn("Child was dead when forwarding signal");
      return true;
    }
    log_.Fatal(std::string("Unexpected error when forwarding signal: '") + std::strerror(errno) +
               "'");
    return false;
  }

  const ReaperOptions& o_;
  Reporter log_;
  pid_t child_ = -1;
  int exit_code_ = -1;
};

}  // namespace

int ReaperMain(const std::vector<std::string>& args) {
  const std::string name = ProgramName();
  auto opts = ParseReaperOptions(args, TiniEnvironment());
  if (!opts.ok()) {
    Reporter(1).Fatal(opts.error().str());
    return 1;
  }
  switch (opts->action) {
    case ReaperOptions::Action::kHelp:
      std::fputs(ReaperUsage(name).c_str(), stdout);
      return 0;
    case ReaperOptions::Action::kVersion:
      std::printf("tini version 0.19.0 - initos %s\n", INITOS_VERSION);
      return 0;
    case ReaperOptions::Action::kLicense:
      std::puts(
          "InitOS reaper mode: an independent implementation of tini's command line\n"
          "interface; it contains no tini code. Licensed under the InitOS license, see\n"
          "the LICENSE file shipped with InitOS.");
      return 0;
    case ReaperOptions::Action::kRun:
      break;
  }
  return Reaper(*opts).Run();
}

}  // namespace boot
}  // namespace initos
