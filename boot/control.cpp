// `initos poweroff|reboot|halt`: ask PID 1 for an orderly shutdown by signal.
#include "boot/control.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "base/options.h"
#include "boot/supervisor.h"
#include "format/shutdown_kind.h"

namespace initos {
inline namespace boot {
namespace {

constexpr const char kHelpFormat[] =
    "usage: initos %s [--pid PID]\n"
    "\n"
    "Asks PID 1 (initos init) for an orderly %s: it stops every process\n"
    "(SIGTERM, then SIGKILL after init.stop-timeout-ms), syncs, unmounts and\n"
    "then calls reboot(2).\n"
    "\n"
    "The request is a real-time signal that initos always honours, whatever\n"
    "init.signals says (systemd's convention):\n"
    "  poweroff  SIGRTMIN+4     reboot  SIGRTMIN+5     halt  SIGRTMIN+3\n"
    "PID 1 also understands the busybox signals by default (SIGUSR2 poweroff,\n"
    "SIGTERM reboot, SIGUSR1 halt), but a config may remap those.\n"
    "\n"
    "  --pid PID   signal PID instead of 1 (an initos init that is not PID 1)\n"
    "\n"
    "Needs permission to signal PID 1 (root).\n";

int RequestSignal(ShutdownKind kind) {
  if (kind == ShutdownKind::kPoweroff) return PoweroffRequestSignal();
  if (kind == ShutdownKind::kReboot) return RebootRequestSignal();
  return HaltRequestSignal();
}

}  // namespace

int ControlMain(const std::string& action, const std::vector<std::string>& args) {
  auto kind = ParseShutdownKind(action);
  if (!kind.ok() || *kind == ShutdownKind::kKexec) {
    std::fprintf(stderr, "initos: unknown action '%s' (poweroff, reboot or halt)\n",
                 action.c_str());
    return 2;
  }
  auto a = Options::Parse(args, {{"--pid", "", true}});
  if (!a.ok() || !a->positional().empty()) {
    std::string what =
        a.ok() ? "unexpected argument '" + a->positional()[0] + "'" : a.error().str();
    std::fprintf(stderr, "initos %s: %s; see `initos %s --help`\n", action.c_str(), what.c_str(),
                 action.c_str());
    return 2;
  }
  if (a->help()) {
    std::printf(kHelpFormat, action.c_str(), action.c_str());
    return 0;
  }
  pid_t pid = 1;
  if (auto v = a->One("--pid")) {
    auto r = std::from_chars(v->data(), v->data() + v->size(), pid);
    if (r.ec != std::errc() || r.ptr != v->data() + v->size() || pid <= 0) {
      std::fprintf(stderr, "initos %s: --pid needs a process id, not '%s'\n", action.c_str(),
                   v->c_str());
      return 2;
    }
  }
  if (::kill(pid, RequestSignal(*kind)) != 0) {
    int e = errno;
    std::fprintf(stderr, "initos %s: cannot signal PID %d: %s%s\n", action.c_str(), pid,
                 std::strerror(e), e == EPERM ? " (run it as root)" : "");
    return 1;
  }
  return 0;
}

}  // namespace boot
}  // namespace initos
