// PID 1: an ordered list of small stages (kStages below), then the
// supervisor loop, then an orderly shutdown. Every stage logs "stage NAME done|failed t=..." for
// boot analysis.
#include "boot/pid1.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "base/children.h"
#include "base/file.h"
#include "base/log.h"
#include "base/options.h"
#include "base/spawn.h"
#include "boot/guest/guest_boot.h"
#include "boot/handover/handover.h"
#include "boot/initramfs_shutdown.h"
#include "boot/jails/jail_mode.h"
#include "boot/jails/leave_initramfs.h"
#include "boot/rootfs/measured_boot.h"
#include "boot/rootfs/rootfs_boot.h"
#include "boot/rootfs/rootfs_policy.h"
#include "boot/rootfs/slot_boot.h"
#include "boot/secure_boot.h"
#include "boot/shutdown.h"
#include "boot/supervisor.h"
#include "boot/terminate.h"
#include "format/boot_status.h"
#include "format/config.h"
#include "format/stage.h"
#include "jail/control_server.h"
#include "os/modules.h"
#include "os/mounts.h"
#include "sidecar/sidecar.h"

namespace initos {
inline namespace boot {
namespace {

constexpr const char kNetworkHook[] = "/etc/initos/network-up";

constexpr const char kHelp[] =
    "usage: initos init [--config FILE] [--root DIR] [--cmdline TEXT]\n"
    "\n"
    "Runs the init sequence: mount /proc /sys /dev /run /sys/fs/cgroup, log to\n"
    "/dev/kmsg, read the config and /proc/cmdline, load modules, start init.main\n"
    "and supervise it, then shut down as init.on-exit says. The kernel runs this\n"
    "automatically when initos is /init (PID 1).\n"
    "\n"
    "  --config FILE   config file (default ROOT/etc/initos/initos.toml)\n"
    "  --root DIR      prefix for the config, /proc/cmdline, modules and mounts\n"
    "  --cmdline TEXT  use TEXT instead of ROOT/proc/cmdline\n"
    "\n"
    "Not as PID 1 (for tests) it leaves the host alone: no mounts, no console or\n"
    "kmsg takeover, no modules; shutdown signals only its own descendants and\n"
    "returns instead of calling reboot(2).\n";

struct Pid1Options {
  std::string root = "/";
  std::string config_path;             // "" = ROOT/etc/initos/initos.toml
  std::optional<std::string> cmdline;  // nullopt = read ROOT/proc/cmdline (PID 1 only)
  bool help = false;
};

// Only for `initos init` run as an ordinary process (tests) or as PID 1 of a
// container: the kernel's PID 1 never parses its argv (cli.cpp).
Result<Pid1Options> ParseArgs(const std::vector<std::string>& args) {
  auto a =
      Options::Parse(args, {{"--config", "", true}, {"--root", "", true}, {"--cmdline", "", true}});
  if (!a.ok()) return Err() << a.error().str() << "; see `initos init --help`";
  if (!a->positional().empty())
    return Err() << "unknown argument '" << a->positional()[0] << "'; see `initos init --help`";
  Pid1Options o;
  o.help = a->help();
  o.config_path = a->One("--config").value_or("");
  o.root = a->One("--root").value_or("/");
  o.cmdline = a->One("--cmdline");
  return o;
}

struct Pid1State {
  Pid1Options opts;
  bool is_pid1 = false;
  Config config;
  unique_fd signal_fd;
  unique_fd tty;                    // the console's real tty device, for the main program
  std::optional<MountedRoot> root;  // the verified root init.main runs in
  MeasuredBoot measured;            // PCR 11 extended with the root's bundle event
  std::vector<std::string> fatal_config_problems;  // StagePolicy refuses to boot on these
  EfiBootInfo efi;  // Secure Boot as read by StageSecureBoot (informational)
  // The switch-root handover began: the initramfs may be deleted and "/" the
  // OS, so paths no longer name initramfs files.
  bool handover_started = false;
  // init.shell opened in the initramfs before the handover, when the failure
  // policy may run it: the recovery shell after a failed exec of the OS init.
  unique_fd initramfs_shell;
};

using StageFn = Result<void> (*)(Pid1State&);
struct Stage {
  const char* name;
  StageFn fn;
  bool fatal;                      // failure ends the boot (failure action) instead of continuing
  bool (*when)(const Pid1State&);  // nullptr: always
};

// ---- stages -----------------------------------------------------------------

Result<void> StageEarly(Pid1State& s) {
  auto fd = BlockSignalsToFd();
  if (!fd.ok()) return fd.error();
  s.signal_fd = std::move(*fd);
  ::umask(022);
  if (s.is_pid1) {
    ::setsid();  // normally already a session leader: failure is harmless
    // Ctrl-alt-del then sends us SIGINT (init.signals) instead of a hard reboot.
    if (::reboot(RB_DISABLE_CAD) != 0)
      LOG(Warning) << "reboot(RB_DISABLE_CAD): " << std::strerror(errno);
  } else if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    // Not PID 1: orphans of the main program must still come back to us.
    return ErrnoError() << "prctl(PR_SET_CHILD_SUBREAPER)";
  }
  return {};
}

Result<void> StageMounts(Pid1State& s) {
  if (!s.is_pid1) {
    LOG(Info) << "mounts: not PID 1, leaving the host's mounts alone";
    return {};
  }
  return MountEarly(s.opts.root, EarlyMounts());
}

// The device behind /dev/console ("ttyS0" for console=ttyS0): the last entry
// of /sys/class/tty/console/active. /dev/console itself cannot be a
// controlling tty, which job control in a shell needs.
unique_fd OpenConsoleTty(const std::string& root) {
  auto active = ReadFileToString(PathUnderRoot(root, "/sys/class/tty/console/active"));
  if (active.ok()) {
    // The last whitespace-separated word (no istringstream: it would build
    // the C++ locale in PID 1 for this one line).
    std::string_view words = *active;
    constexpr std::string_view kSpace = " \t\n";
    size_t end = words.find_last_not_of(kSpace);
    std::string last;
    if (end != std::string_view::npos) {
      size_t begin = words.find_last_of(kSpace, end);
      begin = begin == std::string_view::npos ? 0 : begin + 1;
      last = std::string(words.substr(begin, end + 1 - begin));
    }
    if (!last.empty()) {
      auto fd = OpenFile(PathUnderRoot(root, "/dev/" + last), O_RDWR | O_NOCTTY);
      if (fd.ok()) return std::move(*fd);
    }
  }
  auto fd = OpenFile(PathUnderRoot(root, "/dev/console"), O_RDWR | O_NOCTTY);
  return fd.ok() ? std::move(*fd) : unique_fd();
}

Result<void> StageConsole(Pid1State& s) {
  if (!s.is_pid1) {
    LOG(Info) << "console: not PID 1, logging to stderr";
    return {};
  }
  std::string problem;
  auto console = OpenFile(PathUnderRoot(s.opts.root, "/dev/console"), O_RDWR | O_NOCTTY);
  if (console.ok()) {
    for (int fd = 0; fd <= 2; ++fd) ::dup2(console->get(), fd);  // dup2 clears O_CLOEXEC
  } else {
    problem = console.error().str();
  }
  // By default the kernel lets user space write 10 lines per 5 s to /dev/kmsg
  // (printk.devkmsg=ratelimit) and drops the rest: PID 1's later boot and
  // shutdown lines would be lost. Lift the limit; a printk.devkmsg= on the
  // kernel command line locks the setting and this write fails, as it should.
  (void)WriteStringToFile(PathUnderRoot(s.opts.root, "/proc/sys/kernel/printk_devkmsg"), "on\n");
  auto kmsg = OpenFile(PathUnderRoot(s.opts.root, "/dev/kmsg"), O_WRONLY);
  if (kmsg.ok()) {
    LogToKmsg(std::move(*kmsg));
  } else {
    // Without kmsg, the console still shows the records (with their <N> prefix).
    int fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    LogToKmsg(unique_fd(fd));
    problem += (problem.empty() ? "" : "; ") + kmsg.error().str() + " (logging to the console)";
  }
  s.tty = OpenConsoleTty(s.opts.root);
  if (!problem.empty()) return Err() << problem;
  return {};
}

Severity ParseSeverity(const std::string& level) {
  static const char* kNames[] = {"emerg",   "alert",  "crit", "error",
                                 "warning", "notice", "info", "debug"};
  for (int i = 0; i < 8; ++i) {
    if (level == kNames[i]) return static_cast<Severity>(i);
  }
  return Severity::Info;
}

Result<void> StageConfig(Pid1State& s) {
  std::string path = s.opts.config_path.empty()
                         ? PathUnderRoot(s.opts.root, "/etc/initos/initos.toml")
                         : s.opts.config_path;
  std::string text;
  auto read = ReadFileToString(path);
  if (read.ok()) {
    text = std::move(*read);
  } else {
    LOG(Warning) << "config " << read.error().str() << ": using the defaults";
  }
  std::string cmdline;
  if (s.opts.cmdline) {
    cmdline = *s.opts.cmdline;
  } else if (s.is_pid1) {
    auto c = ReadFileToString(PathUnderRoot(s.opts.root, "/proc/cmdline"));
    if (c.ok())
      cmdline = *c;
    else
      LOG(Warning) << "kernel command line: " << c.error().str();
  }
  // Parse, kernel command-line overrides, consistency checks, signal defaults.
  ParsedConfig parsed = LoadConfig(text, path, cmdline);
  std::vector<ConfigProblem> problems = std::move(parsed.problems);
  s.config = std::move(parsed.config);
  SetMinSeverity(ParseSeverity(s.config.init.log_level));
  // Jail mode in PID 1: a directory rootfs (development hosts) runs only in
  // development mode; `initos jail run` allows it.
  if (s.config.init.mode == InitMode::kJails)
    for (ConfigProblem& p : CheckJailsForBoot(s.config, path)) problems.push_back(std::move(p));
  for (const ConfigProblem& p : problems) {
    LOG(Error) << "config: " << p.str();
    if (p.fatal) s.fatal_config_problems.push_back(p.str());
  }
  if (!problems.empty()) {
    return Err() << problems.size() << " problem(s) in the configuration (logged above); "
                 << "the bad keys keep their defaults";
  }
  return {};
}

// Decides the trust mode and refuses a config PID 1 cannot enforce: a
// problem on a key that chooses what runs or what is trusted (an image
// locator with a typo would otherwise boot unverified) or a mode this
// version does not implement stops the boot under the failure policy.
Result<void> StagePolicy(Pid1State& s) {
  // Development mode is announced on every boot: a lowered init.log-level
  // must not hide it (nor the rootfs warnings it comes with).
  if (DevelopmentMode(s.config) && MinSeverity() < Severity::Warning)
    SetMinSeverity(Severity::Warning);
  if (DevelopmentMode(s.config))
    LOG(Warning) << "DEVELOPMENT MODE (rootfs.insecure-dev-mode): kernel command-line overrides "
                    "are not restricted, images no trusted key signed boot and a failed "
                    "verification may open a shell; never ship "
                    "this configuration";
  else
    LOG(Info) << "verified mode: the kernel command line may set "
              << (s.config.init.cmdline_overrides.empty()
                      ? std::string("no key")
                      : std::to_string(s.config.init.cmdline_overrides.size()) +
                            " key(s) listed in init.cmdline-overrides");
  if (s.fatal_config_problems.empty()) return {};
  std::string first = s.fatal_config_problems.front();
  return Err() << "the configuration cannot be enforced (" << s.fatal_config_problems.size()
               << " problem(s) on keys that decide what runs or what is trusted, first: " << first
               << "); fix the config in the initramfs";
}

Result<void> StageModules(Pid1State& s) {
  if (s.config.init.modules.empty()) return {};
  if (!s.is_pid1) {
    LOG(Info) << "modules: not PID 1, not loading " << s.config.init.modules.size() << " module(s)";
    return {};
  }
  utsname u{};
  ::uname(&u);
  return LoadModules(PathUnderRoot(s.opts.root, std::string("/lib/modules/") + u.release),
                     s.config.init.modules);
}

// How the machine booted (EFI Secure Boot, systemd-stub), one line and in
// the boot status (boot/secure_boot.h). Never changes what is verified.
Result<void> StageSecureBoot(Pid1State& s) {
  utsname u{};
  ::uname(&u);
  s.efi = ProbeEfiBoot(s.opts.root, s.is_pid1,
                       PathUnderRoot(s.opts.root, std::string("/lib/modules/") + u.release));
  for (const std::string& p : s.efi.problems) LOG(Warning) << "secure boot: ignoring " << p;
  bool dev = DevelopmentMode(s.config);
  if (dev)
    LOG(Warning) << SecureBootLine(s.efi, dev);
  else
    LOG(Notice) << SecureBootLine(s.efi, dev);
  return {};
}

// /run/initos/status for `initos status`: written before the sidecar starts
// (it copies the record) and before the switch-root handover (it moves into
// the OS with /run). Not fatal: the boot does not depend on it.
void WriteStatusRecord(const Pid1State& s) {
  BootStatus st;
  st.mode = std::string(InitModeName(s.config.init.mode));
  st.initos_version = INITOS_VERSION;
  st.booted_at = BootTimeSeconds();
  st.secure_boot = EfiBootSummary(s.efi);
  st.trust = std::string(TrustModeName(DevelopmentMode(s.config)));
  if (s.root) {
    st.image = s.root->image.name;
    st.version = s.root->image.version;
    st.root_hash = s.root->image.root_hash;
    st.source = s.root->source;
    if (s.root->slot) st.slot = std::string(SlotName(*s.root->slot));
  }
  RecordMeasurement(s.measured, st);
  std::string path = PathUnderRoot(s.opts.root, kBootStatusPath);
  auto w = WriteBootStatus(path, st);
  if (!w.ok()) LOG(Error) << "status: cannot write " << path << ": " << w.error().str();
}

// rootfs.image set: find, verify and mount the signed root at /sysroot
// (docs/boot-verification.md). Fatal: nothing unverified ever runs.
Result<void> StageRootfs(Pid1State& s) {
  if (!s.is_pid1) {
    if (!s.config.rootfs.image.empty() || !s.config.rootfs.slots.empty())
      LOG(Info) << "rootfs: not PID 1, not mounting the verified root";
    return {};
  }
  BootEnv env;
  env.dev_dir = PathUnderRoot(s.opts.root, "/dev");
  env.class_block_dir = PathUnderRoot(s.opts.root, "/sys/class/block");
  env.sys_root = PathUnderRoot(s.opts.root, "/sys");
  env.run_dir = PathUnderRoot(s.opts.root, "/run/initos");
  env.target = PathUnderRoot(s.opts.root, "/sysroot");
  auto root = BootVerifiedRoot(s.config, env);
  if (!root.ok()) return root.error();
  s.root = std::move(*root);
  // Measured before anything from the verified root runs (init.main, the
  // OS init); never fatal (boot/rootfs/measured_boot.h).
  if (s.root) s.measured = MeasureBootedBundle(s.root->image, PathUnderRoot(s.opts.root, "/dev"));
  WriteStatusRecord(s);
  return {};
}

void RecordBoot(const MountedRoot& root);

// An executable ROOT/etc/initos/network-up in the initramfs (e.g. busybox
// `ip` commands) runs before the sidecar starts, so sshd is reachable
// whatever the OS does with its network. Its failure is logged, not fatal;
// a hook that hangs (a DHCP client waiting for a link) is killed after
// kNetworkHookTimeout so the boot goes on.
constexpr std::chrono::seconds kNetworkHookTimeout{60};

void RunNetworkHook(const std::string& root) {
  std::string hook = PathUnderRoot(root, kNetworkHook);
  if (::access(hook.c_str(), X_OK) != 0) return;
  SpawnOptions so;
  so.argv = {hook};
  so.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  // Its own group: on timeout the group is killed. Output stays on the
  // console (a DHCP client it backgrounds may keep printing there).
  so.new_process_group = true;
  auto null = OpenFile(PathUnderRoot(root, "/dev/null"), O_RDWR);
  if (null.ok()) so.stdin_fd = null->get();
  auto pid = Spawn(so);
  if (!pid.ok()) {
    LOG(Error) << "switch-root: network hook " << pid.error().str() << "; fix " << kNetworkHook
               << " in the initramfs";
    return;
  }
  auto status = WaitForExit(*pid, kNetworkHookTimeout, hook);
  if (!status.ok())
    LOG(Error) << "switch-root: network hook " << status.error().str()
               << "; the sidecar may be unreachable, fix " << kNetworkHook << " in the initramfs";
  else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    LOG(Error) << "switch-root: " << hook << " " << DescribeStatus(*status)
               << "; the sidecar may be unreachable, fix " << kNetworkHook << " in the initramfs";
  else
    LOG(Info) << "switch-root: " << hook << " done";
}

// If a failed handover would open the recovery shell (development mode,
// rootfs.on-failure = "shell"), open it now, in the initramfs: once the
// handover has begun, "/bin/sh" would be the OS's file (or nothing).
void OpenRecoveryShell(Pid1State& s) {
  RootfsFailureAction a = DecideRootfsFailure(s.config.rootfs, s.config.init);
  if (a.kind != RootfsFailureAction::Kind::kShell || a.shell.empty()) return;
  if (a.shell[0].empty() || a.shell[0][0] != '/') {
    LOG(Warning) << "switch-root: init.shell " << a.shell[0]
                 << " is not an absolute path in the initramfs; no recovery shell after a failed "
                    "handover";
    return;
  }
  auto fd = OpenFile(PathUnderRoot(s.opts.root, a.shell[0]), O_PATH);
  if (!fd.ok()) {
    LOG(Warning) << "switch-root: recovery shell " << fd.error().str()
                 << "; a failed handover powers off instead";
    return;
  }
  s.initramfs_shell = std::move(*fd);
}

// init.mode = "switch-root": hand the machine to the verified OS's own init
// (systemd), with the SSH sidecar beside it. Mount layout: the state
// partition stays at /run/initos/state and moves into the OS with /run;
// /run/initramfs/shutdown (a copy of this binary) is what systemd execs at
// the end of poweroff/reboot to tear the verified stack down.
// Fatal: returns only when the handover failed (e.g. the OS has no init).
Result<void> StageSwitchRoot(Pid1State& s) {
  if (!s.is_pid1) {
    LOG(Info) << "switch-root: not PID 1, not handing over";
    return {};
  }
  if (!s.root)
    return Err() << "switch-root: init.mode = \"switch-root\" needs a verified OS root: set "
                    "rootfs.image (and rootfs.keys) in the initramfs config";
  auto prep = PrepareShutdownRoot(s.opts.root, "/proc/self/exe");
  if (!prep.ok())
    LOG(Error) << "switch-root: " << prep.error().str()
               << "; systemd will not be able to tear down the verified root at shutdown";
  RunNetworkHook(s.opts.root);
  OpenRecoveryShell(s);
  HandoverOptions o;
  o.root = s.opts.root;
  o.new_root = s.root->target;
  o.state_dir = s.root->state_dir;
  SwitchRootHooks hooks;
  hooks.on_start = [&s] { s.handover_started = true; };
  hooks.exec = [&s](const std::string& path, const std::vector<std::string>& argv) -> Result<void> {
    RecordBoot(*s.root);
    // A VM jail's guest: the root is verified and mounted, the OS is next.
    ReportGuestReadyIfEnabled(s.config, s.root->image.version);
    LOG(Info) << StageDoneLine("switch-root", MonotonicSeconds());
    LOG(Info) << "exec OS init: " << path << " t=" << FormatSeconds(MonotonicSeconds());
    // The OS init starts like the kernel starts us: no blocked signals.
    sigset_t ours;
    ::sigprocmask(SIG_SETMASK, nullptr, &ours);
    ResetSignals();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(path.c_str(), args.data());
    int err = errno;
    ::sigprocmask(SIG_SETMASK, &ours, nullptr);  // back to our signalfd for the failure policy
    errno = err;
    return ErrnoError() << "exec OS init " << path;
  };
  auto r = SwitchRootToOs(s.config, o, hooks);
  if (!r.ok()) return r.error();
  return Err() << "switch-root: the handover returned without exec";
}

bool WantSwitchRoot(const Pid1State& s) {
  return s.config.init.mode == InitMode::kSwitchRoot;
}

// The boot sequence, in order. `when` (if set) decides whether a stage runs.
constexpr Stage kStages[] = {
    {"early", StageEarly, true, nullptr},
    {"mounts", StageMounts, false, nullptr},
    {"console", StageConsole, false, nullptr},
    {"config", StageConfig, false, nullptr},
    {"policy", StagePolicy, true, nullptr},
    {"modules", StageModules, false, nullptr},
    {"secure-boot", StageSecureBoot, false, nullptr},
    {"rootfs", StageRootfs, true, nullptr},
    {"switch-root", StageSwitchRoot, true, WantSwitchRoot},
};

bool RunStage(const Stage& stage, Pid1State& s) {
  Result<void> r = stage.fn(s);
  if (r.ok()) {
    LOG(Info) << StageDoneLine(stage.name, MonotonicSeconds());
    return true;
  }
  LOG(Error) << StageFailedLine(stage.name, MonotonicSeconds(), r.error().str());
  return false;
}

// ---- the end ----------------------------------------------------------------

std::vector<std::string> MainEnvironment(const InitConfig& init) {
  std::map<std::string, std::string> env = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
                                            {"TERM", "linux"}};
  for (const auto& [k, v] : init.env) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

ShutdownOptions ShutdownOptionsFor(const Pid1State& s) {
  ShutdownOptions o;
  o.stop_timeout_ms = s.config.init.stop_timeout_ms;
  o.kill_all = s.is_pid1;
  o.unmount = s.is_pid1;
  o.call_reboot = s.is_pid1;
  o.proc = PathUnderRoot(s.opts.root, "/proc");
  return o;
}

// Never returns as PID 1: the kernel panics when init exits.
int Finish(const Pid1State& s, ShutdownKind kind, const std::string& reason) {
  Shutdown(kind, reason, ShutdownOptionsFor(s));
  if (!s.is_pid1) return 0;
  LOG(Emerg) << "still alive after reboot(2); hanging";
  for (;;) ::pause();
}

ShutdownKind FailureShutdown(RootfsFailureAction::Kind kind) {
  switch (kind) {
    case RootfsFailureAction::Kind::kReboot:
      return ShutdownKind::kReboot;
    case RootfsFailureAction::Kind::kHalt:
      return ShutdownKind::kHalt;
    case RootfsFailureAction::Kind::kShell:  // only reached when no shell can be supervised
    case RootfsFailureAction::Kind::kPoweroff:
      return ShutdownKind::kPoweroff;
  }
  return ShutdownKind::kPoweroff;
}

// A fatal stage before the console stage would leave its error queued:
// write the queue wherever possible.
void FlushEarlyLogs(const std::string& root) {
  auto kmsg = OpenFile(PathUnderRoot(root, "/dev/kmsg"), O_WRONLY);
  if (kmsg.ok()) {
    LogToKmsg(std::move(*kmsg));
    return;
  }
  LogToKmsg(unique_fd(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)));
}

SupervisorOptions ConsoleOptions(const Pid1State& s) {
  SupervisorOptions so;
  so.env = MainEnvironment(s.config.init);
  so.tty_fd = s.tty.get();
  so.controlling_tty = s.tty.ok();
  return so;
}

// The main program from the verified image is running: raise the
// anti-rollback record (never lowered; see init/version_floor.h).
void RecordBoot(const MountedRoot& root) {
  auto r = RecordSuccessfulBoot(root);
  if (!r.ok())
    LOG(Error) << "rootfs: cannot record " << root.image.name << " version " << root.image.version
               << " as booted: " << r.error().str();
  else if (*r)
    LOG(Info) << "rootfs: recorded " << root.image.name << " version " << root.image.version
              << " as booted";
}

// A fatal stage (a root that failed verification above all): the failure
// policy of init/rootfs_policy.h. Never boots on.
int FailBoot(Pid1State& s, const char* stage) {
  if (s.is_pid1) FlushEarlyLogs(s.opts.root);
  RootfsFailureAction a = DecideRootfsFailure(s.config.rootfs, s.config.init);
  if (s.handover_started) a = RecoveryAfterHandover(a, s.initramfs_shell.ok());
  if (!a.note.empty()) LOG(Warning) << a.note;
  std::string reason = std::string("stage ") + stage + " failed";
  if (a.kind == RootfsFailureAction::Kind::kShell && s.signal_fd.ok()) {
    // The shell comes from the initramfs; when it ends, reboot.
    InitConfig shell = s.config.init;
    shell.main = a.shell;
    shell.on_exit = OnExit::kReboot;
    SupervisorOptions so = ConsoleOptions(s);
    // Before the handover this is the same file as the path; after it, the
    // only way to the initramfs' shell.
    if (s.initramfs_shell.ok()) so.main_exec_fd = s.initramfs_shell.get();
    Supervisor supervisor(shell, so, std::move(s.signal_fd));
    SupervisorResult r = supervisor.Run();
    return Finish(s, r.shutdown, r.reason);
  }
  ShutdownKind kind = FailureShutdown(a.kind);
  if (s.is_pid1 && a.delay_s > 0) {
    LOG(Notice) << reason << ": " << RootfsFailureKindName(a.kind) << " in " << a.delay_s << " s";
    ::sleep(static_cast<unsigned>(a.delay_s));
  }
  return Finish(s, kind, reason);
}

// init.mode = "jails": PID 1 keeps the machine. The SSH sidecar starts as
// in switch-root mode (the admin path, with the jail control socket bound
// in), then every [[jail]] under this loop; at shutdown the jails stop in
// reverse order, each with its stop signal, before the machine goes down.
void StartJailModeSidecar(const Pid1State& s) {
  if (!s.config.sidecar.enable) return;
  RunNetworkHook(s.opts.root);
  std::string state = s.root ? s.root->state_dir : "";
  auto spec = SidecarSpecForBoot(s.config.sidecar, s.opts.root, state);
  if (!spec.ok()) {
    LOG(Error) << spec.error().str() << "; continuing without the SSH sidecar";
    return;
  }
  spec->work_dir = PathUnderRoot(s.opts.root, "/run/initos/sidecar");
  spec->os_root = s.root ? s.root->target : PathUnderRoot(s.opts.root, "/");
  const std::string& sock = s.config.jails.socket;
  std::string control_dir = PathUnderRoot(s.opts.root, sock.substr(0, sock.rfind('/')));
  if (auto d = MakeDirs(control_dir, 0755); d.ok()) spec->extra_binds.push_back(control_dir);
  auto pid = StartSidecar(*spec);
  if (!pid.ok()) {
    LOG(Error) << pid.error().str() << "; continuing without the SSH sidecar";
    return;
  }
  LOG(Info) << "sidecar: started (pid " << *pid << "), listening on "
            << (s.config.sidecar.listen.empty() ? "nothing" : s.config.sidecar.listen[0]);
}

// [jails] mark-good-after-s elapsed with every jail running: the booted
// A/B slot is healthy (docs/upgrades.md).
void MarkSlotGood(const Pid1State& s) {
  if (!s.root) return;
  auto r = MarkBootedSlotGood(*s.root);
  if (!r.ok())
    LOG(Error) << "rootfs: cannot mark slot " << (s.root->slot ? SlotName(*s.root->slot) : "?")
               << " good: " << r.error().str();
  else if (*r)
    LOG(Notice) << "rootfs: slot " << SlotName(*s.root->slot) << " (version "
                << s.root->image.version << ") marked good";
}

int RunJailMode(Pid1State& s, const SupervisorOptions& so) {
  if (s.is_pid1) {
    std::vector<std::string> keep;
    if (s.root) keep.push_back(s.root->target);
    if (auto r = LeaveInitramfs(s.opts.root, keep); !r.ok()) {
      LOG(Error) << StageFailedLine("jails", MonotonicSeconds(),
                                    "leaving the initramfs for a tmpfs root: " + r.error().str());
      return FailBoot(s, "jails");
    }
    LOG(Info) << "jail mode: PID 1 runs from a tmpfs copy of the initramfs (jails can pivot_root)";
  }
  StartJailModeSidecar(s);
  Supervisor supervisor(s.config.init, so, std::move(s.signal_fd));
  JailModeSetup setup;
  setup.allow_directories = DevelopmentMode(s.config);
  setup.state_dir = s.root ? s.root->state_dir : "";
  setup.env.dev_dir = PathUnderRoot(s.opts.root, "/dev");
  setup.env.class_block_dir = PathUnderRoot(s.opts.root, "/sys/class/block");
  setup.env.sys_root = PathUnderRoot(s.opts.root, "/sys");
  setup.env.run_dir = PathUnderRoot(s.opts.root, "/run/initos");
  JailHooks hooks = JailHooksFor(s.config, setup);
  hooks.healthy = [&s, jail_slots = hooks.healthy] {
    MarkSlotGood(s);
    if (jail_slots) jail_slots();  // each jail's rootfs-slots
  };
  JailSupervisor jails(s.config.jails, supervisor.loop(), std::move(hooks));
  if (auto r = jails.Prepare(); !r.ok()) {
    LOG(Error) << StageFailedLine("jails", MonotonicSeconds(), r.error().str());
    s.signal_fd = unique_fd();  // the supervisor holds it: the failure policy cannot open a shell
    return FailBoot(s, "jails");
  }
  JailControlServer control(jails, supervisor.loop());
  if (auto r = control.Listen(PathUnderRoot(s.opts.root, s.config.jails.socket)); !r.ok())
    LOG(Error) << "jail control socket: " << r.error().str()
               << "; `initos jail` cannot reach the jails";
  supervisor.SetJails(&jails);
  if (s.root) RecordBoot(*s.root);
  SupervisorResult r = supervisor.Run();
  LOG(Info) << "stopping the jails (" << r.reason << ")";
  jails.StopAll();
  return Finish(s, r.shutdown, r.reason);
}

}  // namespace

int Pid1Main(const std::vector<std::string>& args) {
  Pid1State s;
  s.is_pid1 = ::getpid() == 1;
  if (s.is_pid1) {
    SetLogTarget(LogTarget::kQueue);
    // RunCli installed it already for every PID-1 path; again here for
    // callers that enter Pid1Main directly.
    InstallPid1TerminateHandler(RB_AUTOBOOT);
  }
  LOG(Info) << "initos " << INITOS_VERSION
            << " init starting t=" << FormatSeconds(MonotonicSeconds());
  if (s.is_pid1 && !args.empty())
    LOG(Warning) << "ignoring " << args.size()
                 << " argument(s) passed to PID 1 (kernel command-line words after \"--\"): PID 1 "
                    "takes no options, the config in the initramfs decides";
  auto opts = ParseArgs(s.is_pid1 ? std::vector<std::string>() : args);
  if (!opts.ok()) {
    std::fprintf(stderr, "initos init: %s\n", opts.error().str().c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  s.opts = std::move(*opts);
  FillSignalDefaults(s.config.init);

  for (const Stage& stage : kStages) {
    if (stage.when && !stage.when(s)) continue;
    if (!RunStage(stage, s) && stage.fatal) return FailBoot(s, stage.name);
  }

  SupervisorOptions so = ConsoleOptions(s);
  if (s.config.init.mode == InitMode::kJails) return RunJailMode(s, so);
  if (s.root) {
    so.main_root = s.root->target;
    so.on_main_started = [&s] { RecordBoot(*s.root); };
  }
  Supervisor supervisor(s.config.init, so, std::move(s.signal_fd));
  SupervisorResult r = supervisor.Run();
  return Finish(s, r.shutdown, r.reason);
}

}  // namespace boot
}  // namespace initos
