#include "cli/cli.h"

#include <signal.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "boot/control.h"
#include "boot/guest/guest_agent.h"
#include "boot/guest/guest_power_key.h"
#include "boot/initramfs_shutdown.h"
#include "boot/pid1.h"
#include "boot/reaper.h"
#include "boot/terminate.h"
#include "cli/jail_cli.h"
#include "cli/status_cli.h"
#include "cli/upgrade_cli.h"
#include "format/shutdown_kind.h"
#include "image/image_cli.h"
#include "sidecar/sidecar_cli.h"

namespace initos {
inline namespace cli {
namespace {

constexpr const char kUsage[] =
    "usage: initos COMMAND [ARGS]\n"
    "\n"
    "InitOS: a signed-boot init system.\n"
    "\n"
    "As PID 1 (the /init of an initramfs) it runs the init sequence configured in\n"
    "/etc/initos/initos.toml and ignores its arguments. Commands:\n"
    "  init [--config FILE]      run the init sequence outside the kernel's PID 1\n"
    "                            (tests, or PID 1 of a container)\n"
    "  reap [OPTIONS] -- CMD...  tini-compatible reaper for containers (also as `tini`)\n"
    "  poweroff | reboot | halt  ask PID 1 for an orderly shutdown\n"
    "  image SUBCOMMAND ...      build and check images (initramfs, keygen, build,\n"
    "                            verify, info); `initos image --help`\n"
    "  status [--json]           the booted image, the mode and the sidecar's uptime\n"
    "  logs [--all]              InitOS' lines from the kernel log\n"
    "  analyze [LOG] [--svg F]   boot timeline: kernel, each stage, OS init; SVG picture\n"
    "  jail COMMAND ...          jails: list, status, logs, console, start, stop,\n"
    "                            restart, exec, run; `initos jail --help`\n"
    "  upgrade COMMAND ...       A/B upgrades: apply, push, receive, status,\n"
    "                            mark-good, mark-bad, rollback; `initos upgrade --help`\n"
    "  sidecar [OPTIONS]         SSH host sidecar supervisor (started by PID 1)\n"
    "  guest-agent --listen-fd N VM jail guest's vsock agent (started by PID 1)\n"
    "  --version                 print the version\n"
    "\n"
    "Every command takes --help.\n";

// PID 1 of the initial PID namespace, started by the kernel: only there is
// PID 2 kthreadd (a container's PID 1 has no PID 2 when it starts, and no
// kernel threads). /proc is not mounted yet, so ask kill(2).
bool IsKernelInit() {
  return ::getpid() == 1 && ::kill(2, 0) == 0;
}

std::string_view Basename(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

}  // namespace

int RunCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string_view self = argc > 0 ? Basename(argv[0]) : "initos";

  // Whatever runs as PID 1 (the init sequence, the shutdown program systemd
  // execs, a container's reaper) must never die by an escaping exception:
  // that is a kernel panic (or a vanished container) with nothing logged.
  if (::getpid() == 1) InstallPid1TerminateHandler(RB_AUTOBOOT);
  if (IsKernelInit()) {
    // systemd execs /run/initramfs/shutdown VERB as PID 1 at the end of
    // poweroff/reboot: that copy of initos tears the verified root down.
    if (self == "shutdown") return InitramfsShutdownMain(args);
    // The kernel's init has one mode and one config, the initramfs' own:
    // its argv comes from the (unsigned) kernel command line, so Pid1Main
    // only logs that it ignores it (`-- reap /bin/sh`, `-- --config ...`).
    return Pid1Main(args);
  }
  if (self == "tini") return ReaperMain(args);
  if (self == "shutdown") return InitramfsShutdownMain(args);
  // PID 1 of a container (a PID namespace): `initos reap -- CMD` is tini.
  if (::getpid() == 1 && (args.empty() || args[0] != "reap")) return Pid1Main(args);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  const std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("initos %s\n", INITOS_VERSION);
    return 0;
  }
  if (cmd == "init") return Pid1Main(rest);
  if (cmd == "reap") return ReaperMain(rest);
  if (auto kind = ParseShutdownKind(cmd); kind.ok() && *kind != ShutdownKind::kKexec)
    return ControlMain(cmd, rest);
  if (cmd == "image") return ImageMain(rest);
  if (cmd == "sidecar") return SidecarMain(rest);
  if (cmd == kGuestAgentCommand) return GuestAgentMain(rest);
  if (cmd == kGuestPowerKeyCommand) return GuestPowerKeyMain(rest);
  if (cmd == "status") return StatusMain(rest);
  if (cmd == "logs") return LogsMain(rest);
  if (cmd == "analyze") return AnalyzeMain(rest);
  if (cmd == "jail") return JailMain(rest);
  if (cmd == "upgrade") return UpgradeMain(rest);
  std::fprintf(stderr, "initos: unknown command '%s'; run `initos --help` for the list\n",
               cmd.c_str());
  return 2;
}

}  // namespace cli
}  // namespace initos
