// The PID-1 supervisor: PID 1's policy over the one supervision core
// (base/supervision.h), which reaps every zombie and watches the main
// program; this applies init.signals and init.on-exit, and returns once the
// machine should shut down. The decisions are pure
// functions below so they are unit-tested without processes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/supervision.h"
#include "base/unique_fd.h"
#include "boot/shutdown.h"
#include "format/config.h"
#include "jail/supervisor.h"

namespace initos {
inline namespace boot {

// Real-time signals that always mean the same request, whatever init.signals
// says (systemd's convention): `initos poweroff|reboot|halt` sends these.
int PoweroffRequestSignal();  // SIGRTMIN+4
int RebootRequestSignal();    // SIGRTMIN+5
int HaltRequestSignal();      // SIGRTMIN+3

// What a received signal means: the fixed real-time requests first, then
// config.signals; signals not configured are ignored.
SignalAction ActionForSignal(const InitConfig& config, int sig);

// What to do after the main program ended.
struct NextAction {
  enum class Kind { kShutdown, kRespawn, kShell };
  Kind kind = Kind::kShutdown;
  ShutdownKind shutdown = ShutdownKind::kPoweroff;  // with kShutdown
  int delay_ms = 0;                                 // with kRespawn
  std::string reason;                               // logged
};

// respawn_times: monotonic seconds of earlier respawns; now: current time.
// Respawns are limited to init.respawn_limit within init.respawn_window_s
// (a negative limit means unlimited); past the limit it falls back to the
// emergency shell when allowed, else poweroff. main_missing: there is no main
// program to restart (init.main empty), so respawn falls back the same way.
NextAction DecideOnMainExit(const InitConfig& config, const std::vector<double>& respawn_times,
                            double now, bool main_missing = false);

// The emergency shell if init.allow_shell (and init.shell is set), else
// poweroff; `why` becomes the reason.
NextAction ShellOrPoweroff(const InitConfig& config, const std::string& why);

// Signals handled through the signalfd: everything except the synchronous
// fault signals (a blocked SIGSEGV would just kill us) and SIGKILL/SIGSTOP.
sigset_t HandledSignals();

// Blocks HandledSignals() and returns a non-blocking close-on-exec signalfd
// for them. Call first thing, before any child exists.
Result<unique_fd> BlockSignalsToFd();

struct SupervisorOptions {
  std::vector<std::string> env;  // full environment ("K=V") of main and shell
  int tty_fd = -1;               // stdin/stdout/stderr of main and shell; -1 inherits ours
  bool controlling_tty = false;  // make tty_fd their controlling terminal
  // The main program runs chrooted here ("" = PID 1's root): the verified
  // root at /sysroot. The emergency shell always comes from the initramfs.
  std::string main_root;
  // >= 0: the main program is exec'd from this open file, not looked up by
  // argv[0] (PID 1's recovery shell after a failed handover: the initramfs
  // is gone by then, but the fd opened before keeps its shell).
  int main_exec_fd = -1;
  // Called once, the first time the main program has been exec'd (PID 1
  // raises the anti-rollback record then).
  std::function<void()> on_main_started;
};

struct SupervisorResult {
  ShutdownKind shutdown = ShutdownKind::kPoweroff;
  std::string reason;
  int main_status = -1;  // last waitpid status of the main program; -1: never ran
};

class Supervisor {
 public:
  Supervisor(InitConfig config, SupervisorOptions options, unique_fd signal_fd);
  // Starts the main program (or applies on-exit right away when there is
  // none) and runs the loop until a shutdown is decided.
  SupervisorResult Run();

  // Jail mode: the jails run in this loop instead of a main program (none
  // is started), their slots' events go to `jails`; Run() starts them.
  Supervision& loop() { return loop_; }
  void SetJails(JailSupervisor* jails) { jails_ = jails; }

 private:
  // Each returns true when a shutdown has been decided (result_ is set).
  bool StartMain();
  bool StartShell();
  bool Apply(const NextAction& next);
  bool OnMainExit(int status);
  bool OnSignal(int sig);
  bool OnTimer();
  bool Decide(ShutdownKind kind, std::string reason);
  Result<pid_t> SpawnOnConsole(const std::vector<std::string>& argv, const std::string& root = "",
                               int exec_fd = -1);

  // The one slot PID 1 supervises: the main program, or the shell.
  static constexpr Supervision::ChildId kMain = 0;

  InitConfig config_;
  SupervisorOptions options_;
  unique_fd signal_fd_;
  Supervision loop_;  // reaps orphans too: this is PID 1 (or a subreaper)
  bool main_is_shell_ = false;
  std::vector<double> respawn_times_;
  SupervisorResult result_;
  JailSupervisor* jails_ = nullptr;
};

}  // namespace boot
}  // namespace initos
