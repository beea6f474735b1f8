#include "cli/jail_cli.h"

#include <cstdio>

#include "base/file.h"
#include "base/options.h"
#include "boot/jails/jail_mode.h"
#include "format/config.h"
#include "jail/control_protocol.h"
#include "jail/control_server.h"

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
