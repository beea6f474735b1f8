#include "boot/reaper_options.h"

#include <signal.h>
#include <sys/wait.h>

#include <charconv>

#include "base/signals.h"

namespace initos {
inline namespace boot {
namespace {

std::optional<int> ParseInt(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Applies one option letter; `value` is its argument for -p/-e.
Result<void> ApplyOption(char opt, const std::string& value, ReaperOptions* o) {
  switch (opt) {
    case 's':
      o->subreaper = true;
      return {};
    case 'g':
      o->kill_process_group = true;
      return {};
    case 'w':
      o->warn_on_reap = true;
      return {};
    case 'v':
      ++o->verbosity;
      return {};
    case 'p': {
      auto sig = ParseSignal(value);
      if (!sig)
        return Err() << "not a valid signal for -p: '" << value << "' (use e.g. -p SIGKILL)";
      o->parent_death_signal = *sig;
      return {};
    }
    case 'e': {
      auto code = ParseInt(value);
      if (!code || *code < 0 || *code > 255) {
        return Err() << "not a valid exit code for -e: '" << value << "' (use 0 to 255)";
      }
      o->remap_to_zero.set(static_cast<size_t>(*code));
      return {};
    }
  }
  return Err() << "unknown option -" << opt << " (run with -h for the list)";
}

bool TakesValue(char opt) {
  return opt == 'p' || opt == 'e';
}

Result<void> ApplyEnvironment(const std::map<std::string, std::string>& env, ReaperOptions* o) {
  if (env.count("TINI_SUBREAPER")) o->subreaper = true;
  if (env.count("TINI_KILL_PROCESS_GROUP")) o->kill_process_group = true;
  // Like tini, TINI_VERBOSITY replaces the level rather than adding to it.
  if (auto it = env.find("TINI_VERBOSITY"); it != env.end()) {
    auto v = ParseInt(it->second);
    if (!v || *v < 0) {
      return Err() << "TINI_VERBOSITY must be a number >= 0, not '" << it->second << "'";
    }
    o->verbosity = *v;
  }
  return {};
}

}  // namespace

std::optional<int> ParseSignal(std::string_view name) {
  if (auto n = ParseInt(name)) {
    if (*n >= 1 && *n < NSIG) return n;
    return std::nullopt;
  }
  // tini matches names exactly ("TERM" or "SIGTERM", upper case).
  return SignalFromName(name, SignalNameCase::kExact);
}

Result<ReaperOptions> ParseReaperOptions(const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env) {
  ReaperOptions o;
  if (args.size() == 1 && args[0] == "--version") {
    o.action = ReaperOptions::Action::kVersion;
    return o;
  }

  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help") {
      o.action = ReaperOptions::Action::kHelp;
      return o;
    }
    if (a.size() < 2 || a[0] != '-') break;  // first program argument
    if (a[1] == '-') return Err() << "unknown option " << a << " (run with -h for the list)";
    // A cluster like -sgv or -vpSIGKILL, as getopt accepts.
    for (size_t j = 1; j < a.size(); ++j) {
      char opt = a[j];
      if (opt == 'h') {
        o.action = ReaperOptions::Action::kHelp;
        return o;
      }
      if (opt == 'l') {
        o.action = ReaperOptions::Action::kLicense;
        return o;
      }
      std::string value;
      if (TakesValue(opt)) {
        if (j + 1 < a.size()) {
          value = a.substr(j + 1);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return Err() << "option -" << opt << " needs a value (run with -h for usage)";
        }
        j = a.size();
      }
      INITOS_TRY(ApplyOption(opt, value, &o));
    }
  }
  o.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (o.command.empty()) {
    return Err() << "no program to run: give one after the options, e.g. `-- /bin/sh`";
  }
  INITOS_TRY(ApplyEnvironment(env, &o));
  return o;
}

int ReaperExitCode(int wait_status, const std::bitset<256>& remap_to_zero) {
  int code = 1;
  if (WIFEXITED(wait_status)) {
    code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    code = 128 + WTERMSIG(wait_status);  // what a shell reports
  }
  code %= 256;
  return remap_to_zero.test(static_cast<size_t>(code)) ? 0 : code;
}

int ExecFailureExitCode(int err) {
  if (err == ENOENT) return 127;
  if (err == EACCES) return 126;
  return 1;
}

std::string ReaperUsage(std::string_view name) {
  std::string n(name);
  return n + " (tini-compatible reaper of initos " INITOS_VERSION ")\n" + "Usage: " + n +
         " [OPTIONS] [--] PROGRAM [ARGS] | --version\n"
         "\n"
         "Runs PROGRAM as its child, forwards signals to it, reaps every zombie and\n"
         "exits with PROGRAM's exit code (128+N when killed by signal N).\n"
         "\n"
         "Options:\n"
         "  --version     print the version and exit\n"
         "  -h            print this help and exit\n"
         "  -s            register as a child subreaper (for when not PID 1)\n"
         "  -p SIGNAL     get SIGNAL (e.g. SIGKILL) when the parent dies\n"
         "  -v            more output; repeat up to 3 times\n"
         "  -w            warn about every zombie reaped that is not PROGRAM\n"
         "  -g            forward signals to PROGRAM's whole process group\n"
         "  -e EXIT_CODE  exit with 0 when PROGRAM exits with EXIT_CODE (0..255);\n"
         "                repeatable\n"
         "  -l            print the license and exit\n"
         "\n"
         "Environment:\n"
         "  TINI_SUBREAPER           (set) same as -s\n"
         "  TINI_KILL_PROCESS_GROUP  (set) same as -g\n"
         "  TINI_VERBOSITY=N         verbosity level (default 1)\n";
}

}  // namespace boot
}  // namespace initos
