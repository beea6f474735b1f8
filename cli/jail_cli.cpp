#include "cli/jail_cli.h"

#include <cstdio>

#include "base/file.h"
#include "base/options.h"
#include "boot/jails/jail_mode.h"
#include "format/config.h"
#include "jail/control_protocol.h"
#include "jail/control_server.h"
#include "jail/vfio.h"

namespace initos {
inline namespace cli {
namespace {

constexpr const char kUsage[] =
    "usage: initos jail COMMAND [--socket PATH] ...\n"
    "\n"
    "  list                      every jail, its kind, state, pid and restarts\n"
    "  status NAME               one jail in detail\n"
    "  logs NAME [-f]            its console output (-f: keep following)\n"
    "  console NAME              attach to its console (input goes to the jail;\n"
    "                            end input, e.g. Ctrl-D, to detach)\n"
    "  start | stop | restart NAME\n"
    "  exec NAME -- CMD [ARGS]   run CMD inside the running jail, with its\n"
    "                            namespaces, uid map, capabilities and seccomp\n"
    "  run CONFIG [NAME...]      run jails on this machine (development host)\n"
    "  vfio-bind [--dry-run] PCI-ADDRESS...\n"
    "                            hand PCI devices to vfio-pci for VM jails, as the\n"
    "                            supervisor does (--dry-run: print the steps)\n"
    "\n"
    "The supervisor's socket is jails.socket of /etc/initos/initos.toml\n"
    "(default /run/initos/control/jails.sock). root may do everything; members of\n"
    "jails.read-group may list, status and logs.\n";

// The socket path: --socket, else jails.socket of the local config (the
// sidecar has PID 1's), else the default.
std::string SocketPath(const Options& o) {
  if (auto s = o.One("--socket")) return *s;
  auto text = ReadFileToString(std::string(kDefaultConfigPath));
  if (text.ok()) return ParseConfig(*text, kDefaultConfigPath).config.jails.socket;
  return JailsConfig{}.socket;
}

int Usage(const char* why) {
  std::fprintf(stderr, "initos jail: %s\n\n%s", why, kUsage);
  return 2;
}

// The VFIO steps of a VM jail's `devices`, by hand: to check a machine's
// IOMMU groups before writing the config.
int VfioBindMain(const std::vector<std::string>& args) {
  auto o = Options::Parse(args, {{"--dry-run", "-n", false}});
  if (!o.ok()) return Usage(o.error().str().c_str());
  if (o->positional().empty()) return Usage("vfio-bind needs PCI addresses (0000:03:00.0)");
  auto view = ReadVfioView(o->positional());
  auto plan = view.ok() ? PlanVfioBind(*view) : Result<VfioPlan>(view.error());
  if (plan.ok() && !o->Has("--dry-run")) {
    if (auto r = ApplyVfioPlan(*plan); !r.ok()) plan = r.error();
  }
  if (plan.ok() && !o->Has("--dry-run")) {
    if (auto r = CheckVfioBound(*plan); !r.ok()) plan = r.error();
  }
  if (!plan.ok()) {
    std::fprintf(stderr, "initos jail vfio-bind: %s\n", plan.error().str().c_str());
    return 1;
  }
  for (const VfioWrite& w : plan->writes)
    std::printf("%secho %s > /sys/%s\n", o->Has("--dry-run") ? "" : "done: ", w.value.c_str(),
                w.file.c_str());
  for (int g : plan->groups) std::printf("group: /dev/vfio/%d\n", g);
  return 0;
}

}  // namespace

int JailMain(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("which command?");
  const std::string verb = args[0];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (verb == "run") return JailRunMain(rest);
  if (verb == "vfio-bind") return VfioBindMain(rest);
  auto o = Options::Parse(rest, {{"--socket", "", true}, {"--follow", "-f", false}});
  if (!o.ok()) return Usage(o.error().str().c_str());
  if (o->help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  JailRequest r;
  const auto& pos = o->positional();
  static const std::pair<const char*, JailVerb> kVerbs[] = {
      {"list", JailVerb::kList},       {"status", JailVerb::kStatus}, {"logs", JailVerb::kLogs},
      {"console", JailVerb::kConsole}, {"start", JailVerb::kStart},   {"stop", JailVerb::kStop},
      {"restart", JailVerb::kRestart}, {"exec", JailVerb::kExec}};
  bool known = false;
  for (const auto& [name, v] : kVerbs)
    if (verb == name) r.verb = v, known = true;
  if (!known) return Usage(("unknown command '" + verb + "'").c_str());
  if (r.verb == JailVerb::kList) {
    if (!pos.empty()) return Usage("list takes no arguments");
  } else {
    if (pos.empty()) return Usage((verb + " needs a jail name").c_str());
    r.name = pos[0];
    if (r.verb == JailVerb::kExec) {
      r.argv.assign(pos.begin() + 1, pos.end());
      if (r.argv.empty()) return Usage("exec needs a command: initos jail exec NAME -- CMD");
    } else if (pos.size() > 1) {
      return Usage((verb + " takes one jail name").c_str());
    }
  }
  r.follow = o->Has("--follow");
  return RunJailClient(SocketPath(*o), r);
}

}  // namespace cli
}  // namespace initos
