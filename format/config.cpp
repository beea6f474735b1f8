// Config parsing, table-driven: kKeys below is the one list of keys. The TOML
// walker and ApplyOverride (kernel command line) both look keys up there, so a
// new key is one entry (plus its line in configs/initos.toml, which a test
// enforces).
#include "format/config.h"

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdint>
#include <span>
#include <string>

#include "format/cmdline.h"
#include "format/config_values.h"
#include "format/jail_check.h"
#include "format/jail_toml.h"  // toml++, with the settings every user of it shares

namespace initos {
inline namespace format {
namespace {

// ---- enum names ------------------------------------------------------------

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

constexpr EnumName<InitMode> kModeNames[] = {
    {InitMode::kRun, "run"}, {InitMode::kSwitchRoot, "switch-root"}, {InitMode::kJails, "jails"}};
constexpr EnumName<SidecarStart> kSidecarStartNames[] = {
    {SidecarStart::kBeforeHandover, "before-handover"},
    {SidecarStart::kAfterOsInit, "after-os-init"}};
constexpr EnumName<OnExit> kOnExitNames[] = {{OnExit::kPoweroff, "poweroff"},
                                             {OnExit::kReboot, "reboot"},
                                             {OnExit::kRespawn, "respawn"},
                                             {OnExit::kShell, "shell"},
                                             {OnExit::kHalt, "halt"}};
constexpr EnumName<SignalAction> kSignalActionNames[] = {{SignalAction::kReboot, "reboot"},
                                                         {SignalAction::kPoweroff, "poweroff"},
                                                         {SignalAction::kHalt, "halt"},
                                                         {SignalAction::kForward, "forward"},
                                                         {SignalAction::kIgnore, "ignore"}};
constexpr EnumName<OnFailure> kOnFailureNames[] = {{OnFailure::kReboot, "reboot"},
                                                   {OnFailure::kHalt, "halt"},
                                                   {OnFailure::kShell, "shell"},
                                                   {OnFailure::kPoweroff, "poweroff"}};
constexpr EnumName<CorruptionPolicy> kCorruptionNames[] = {{CorruptionPolicy::kEio, "eio"},
                                                           {CorruptionPolicy::kRestart, "restart"},
                                                           {CorruptionPolicy::kPanic, "panic"}};
// Index = syslog priority.
constexpr std::string_view kLogLevels[] = {"emerg",   "alert",  "crit", "error",
                                           "warning", "notice", "info", "debug"};

template <typename E, size_t N>
std::string_view NameOf(std::span<const EnumName<E>, N> names, E v) {
  for (const auto& n : names)
    if (n.value == v) return n.name;
  return "?";
}

template <typename T, size_t N>
std::string JoinNames(std::span<const T, N> items, auto name_of) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + std::string(name_of(i));
  return s;
}

template <typename E, size_t N>
Result<E> ParseEnum(std::span<const EnumName<E>, N> names, std::string_view s) {
  for (const auto& n : names)
    if (n.name == s) return n.value;
  return Err() << "unknown value \"" << s << "\"; expected one of "
               << JoinNames(names, [](const EnumName<E>& n) { return n.name; });
}

// ---- values handed to setters ---------------------------------------------

enum class KeyType { kString, kBool, kInt, kStringList, kStringTable };

// Who may set a key besides the signed config. Every key has one decision
// (a unit test fails for a key without one in the docs).
enum class CmdlineRule {
  kListable,    // from the kernel command line when init.cmdline-overrides names it
  kNever,       // chooses what runs or what is trusted: development mode only
  kSignedOnly,  // would weaken verification: only from the signed config, ever
  kRaiseOnly,   // listable, and may only be made stricter (higher), never lower
};

// One value, already converted to the key's type. `entry` is the entry name
// for kStringTable keys ("PATH" in [init.env]).
struct KeyValue {
  std::string entry;
  std::string str;
  bool boolean = false;
  int64_t integer = 0;
  std::vector<std::string> list;
};

using Setter = Result<void> (*)(Config&, const KeyValue&);

struct KeySpec {
  std::string_view name;
  KeyType type;
  CmdlineRule cmdline;
  Setter set;
  std::string_view doc;
};

Result<int> IntInRange(int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    return Err() << "value " << v << " is out of range; use an integer from " << lo << " to " << hi;
  return static_cast<int>(v);
}

// Setter for an int field with a range, written once per key below.
#define INT_SETTER(field, lo, hi)                    \
  [](Config& c, const KeyValue& v) -> Result<void> { \
    auto r = IntInRange(v.integer, lo, hi);          \
    if (!r.ok()) return r.error();                   \
    c.field = *r;                                    \
    return {};                                       \
  }

#define ENUM_SETTER(field, names)                    \
  [](Config& c, const KeyValue& v) -> Result<void> { \
    auto r = ParseEnum(std::span(names), v.str);     \
    if (!r.ok()) return r.error();                   \
    c.field = *r;                                    \
    return {};                                       \
  }

Result<void> CheckArgv(const std::vector<std::string>& argv, bool allow_empty) {
  if (argv.empty()) {
    if (allow_empty) return {};
    return Err() << "empty argv; write e.g. [\"/bin/sh\"]";
  }
  if (argv[0].empty() || argv[0][0] != '/')
    return Err() << "program \"" << argv[0]
                 << "\" is not an absolute path; write e.g. [\"/bin/sh\", \"-c\", \"...\"]";
  return {};
}

Result<void> SetModules(Config& c, const KeyValue& v) {
  for (const auto& m : v.list) {
    if (m.empty() || m.find_first_of("/ \t") != std::string::npos || m.ends_with(".ko"))
      return Err() << "bad module name \"" << m
                   << "\"; give the bare module name, e.g. \"virtio_blk\" (no path, no .ko)";
  }
  c.init.modules = v.list;
  return {};
}

Result<void> SetEnv(Config& c, const KeyValue& v) {
  const std::string& n = v.entry;
  bool ok = !n.empty() && !(n[0] >= '0' && n[0] <= '9');
  for (char ch : n)
    ok = ok && ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                ch == '_');
  if (!ok)
    return Err() << "bad variable name \"" << n
                 << "\"; use letters, digits and _ (not starting with a digit)";
  if (v.str.find('\0') != std::string::npos) return Err() << "value contains a NUL byte";
  c.init.env[n] = v.str;
  return {};
}

Result<void> SetSignal(Config& c, const KeyValue& v) {
  auto signo = SignalFromName(v.entry);
  if (!signo)
    return Err() << "unknown signal \"" << v.entry
                 << "\"; use a signal name such as SIGTERM, TERM or sigusr1 (numbers are not "
                    "accepted)";
  if (*signo == SIGKILL || *signo == SIGSTOP || *signo == SIGCHLD)
    return Err() << SignalName(*signo)
                 << " cannot be configured (PID 1 cannot catch it or needs it to reap children); "
                    "remove this entry";
  auto action = ParseEnum(std::span(kSignalActionNames), v.str);
  if (!action.ok()) return action.error();
  c.init.signals[*signo] = *action;
  return {};
}

Result<void> SetLogLevel(Config& c, const KeyValue& v) {
  if (!LogLevelPriority(v.str))
    return Err() << "unknown value \"" << v.str << "\"; expected one of "
                 << JoinNames(std::span(kLogLevels), [](std::string_view s) { return s; });
  c.init.log_level = v.str;
  return {};
}

Result<void> SetOsInit(Config& c, const KeyValue& v) {
  if (!v.str.empty() && v.str[0] != '/')
    return Err() << "\"" << v.str << "\" is not an absolute path; write e.g. \"/sbin/init\"";
  c.init.os_init = v.str;
  return {};
}

Result<void> SetKeys(Config& c, const KeyValue& v) {
  for (const auto& k : v.list)
    if (k.empty() || k[0] != '/')
      return Err() << "key \"" << k
                   << "\" is not an absolute path; list PEM public key files in the initramfs, "
                      "e.g. [\"/etc/initos/keys/release.pem\"]";
  c.rootfs.keys = v.list;
  return {};
}

Result<void> SetMinVersion(Config& c, const KeyValue& v) {
  if (v.integer < 0) return Err() << "value " << v.integer << " is negative; use 0 or more";
  c.rootfs.min_version = static_cast<uint64_t>(v.integer);
  return {};
}

Result<void> SetListen(Config& c, const KeyValue& v) {
  for (const auto& a : v.list) INITOS_TRY(ValidateListenAddress(a));
  c.sidecar.listen = v.list;
  return {};
}

Result<void> SetAuthorizedKeys(Config& c, const KeyValue& v) {
  for (size_t i = 0; i < v.list.size(); ++i) {
    auto r = ValidateAuthorizedKey(v.list[i]);
    if (!r.ok()) return Err() << "entry " << i + 1 << ": " << r.error().message;
  }
  c.sidecar.authorized_keys = v.list;
  return {};
}

// A plain absolute directory of the OS root, never "/" itself.
Result<void> CheckPersistentDir(const std::string& d) {
  if (d == "/")
    return Err() << "\"/\" cannot persist: the disk could then replace every binary of the "
                    "verified image; list directories below it, e.g. \"/var\"";
  if (std::string problem = PlainAbsolutePathProblem(d); !problem.empty())
    return Err() << "\"" << d << "\" " << problem
                 << "; write a plain absolute directory, e.g. \"/var\"";
  return {};
}

Result<void> CheckDirList(const std::vector<std::string>& dirs) {
  for (size_t i = 0; i < dirs.size(); ++i) {
    auto r = CheckPersistentDir(dirs[i]);
    if (!r.ok()) return Err() << "entry " << i + 1 << ": " << r.error().message;
    for (size_t j = 0; j < i; ++j) {
      const std::string &a = dirs[j], &b = dirs[i];
      auto nested = [](const std::string& outer, const std::string& inner) {
        return inner.size() > outer.size() && inner.starts_with(outer) &&
               inner[outer.size()] == '/';
      };
      if (a == b || nested(a, b) || nested(b, a))
        return Err() << "\"" << a << "\" and \"" << b
                     << "\" overlap; list each directory once and none inside another";
    }
  }
  return {};
}

constexpr int kMaxMs = 24 * 3600 * 1000;
constexpr int kMaxS = 24 * 3600;

// [jails] and [[jail]] keys ("jails.socket", "jail.web.command", "jail[2].name").
bool IsJailKey(std::string_view key) {
  return key == "jail" || key == "jails" || key.starts_with("jail.") || key.starts_with("jails.") ||
         key.starts_with("jail[");
}

// Defined below the table: it looks the listed keys up there.
Result<void> CheckCmdlineOverrides(const std::vector<std::string>& keys);

const KeySpec kKeys[] = {
    {"init.mode", KeyType::kString, CmdlineRule::kNever, ENUM_SETTER(init.mode, kModeNames),
     "how PID 1 hands over: run (main program), switch-root (OS init), jails ([[jail]])"},
    {"init.main", KeyType::kStringList, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(CheckArgv(v.list, true));
       c.init.main = v.list;
       return {};
     },
     "argv of the main program"},
    {"init.on-exit", KeyType::kString, CmdlineRule::kListable,
     ENUM_SETTER(init.on_exit, kOnExitNames), "what to do when the main program ends"},
    {"init.modules", KeyType::kStringList, CmdlineRule::kNever, SetModules,
     "kernel modules to load before anything else"},
    {"init.shell", KeyType::kStringList, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(CheckArgv(v.list, false));
       c.init.shell = v.list;
       return {};
     },
     "argv of the emergency shell"},
    {"init.allow-shell", KeyType::kBool, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       c.init.allow_shell = v.boolean;
       return {};
     },
     "may PID 1 ever start the emergency shell"},
    {"init.stop-timeout-ms", KeyType::kInt, CmdlineRule::kListable,
     INT_SETTER(init.stop_timeout_ms, 0, kMaxMs), "SIGTERM to SIGKILL grace period at shutdown"},
    {"init.respawn-delay-ms", KeyType::kInt, CmdlineRule::kListable,
     INT_SETTER(init.respawn_delay_ms, 0, kMaxMs), "pause before respawning the main program"},
    {"init.respawn-limit", KeyType::kInt, CmdlineRule::kListable,
     INT_SETTER(init.respawn_limit, 0, INT_MAX), "respawns allowed within respawn-window-s"},
    {"init.respawn-window-s", KeyType::kInt, CmdlineRule::kListable,
     INT_SETTER(init.respawn_window_s, 1, kMaxS), "window for respawn-limit"},
    {"init.failure-delay-s", KeyType::kInt, CmdlineRule::kListable,
     INT_SETTER(init.failure_delay_s, 0, kMaxS), "pause before a failure reboot/poweroff"},
    {"init.os-init", KeyType::kString, CmdlineRule::kNever, SetOsInit,
     "switch-root: init program of the OS"},
    {"init.os-argv", KeyType::kStringList, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(CheckArgv(v.list, true));
       c.init.os_argv = v.list;
       return {};
     },
     "switch-root: argv exec'd as the OS's PID 1 instead of os-init"},
    {"init.log-level", KeyType::kString, CmdlineRule::kListable, SetLogLevel,
     "lowest severity logged: emerg..debug"},
    {"init.env", KeyType::kStringTable, CmdlineRule::kNever, SetEnv,
     "environment of the main program"},
    {"init.signals", KeyType::kStringTable, CmdlineRule::kListable, SetSignal,
     "what PID 1 does with each signal"},
    {"init.cmdline-overrides", KeyType::kStringList, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(CheckCmdlineOverrides(v.list));
       c.init.cmdline_overrides = v.list;
       return {};
     },
     "keys the kernel command line may set outside development mode"},
    {"rootfs.image", KeyType::kString, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(ValidateImageSpec(v.str));
       c.rootfs.image = v.str;
       return {};
     },
     "where the signed root image is"},
    {"rootfs.slots", KeyType::kStringList, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       if (!v.list.empty() && v.list.size() != 2)
         return Err() << "lists " << v.list.size()
                      << " slots; list exactly two, slot a then slot b, e.g. "
                         "[\"PARTLABEL=os-a\", \"PARTLABEL=os-b\"]";
       for (size_t i = 0; i < v.list.size(); ++i) {
         if (v.list[i].empty())
           return Err() << "slot " << (i ? "b" : "a")
                        << " is empty; write PARTLABEL=name or LABEL=name:/path/file.bundle";
         auto r = ValidateImageSpec(v.list[i]);
         if (!r.ok()) return Err() << "slot " << (i ? "b" : "a") << ": " << r.error().message;
       }
       if (!v.list.empty() && v.list[0] == v.list[1])
         return Err() << "both slots are \"" << v.list[0]
                      << "\"; an upgrade would overwrite the running image: name two places";
       c.rootfs.slots = v.list;
       return {};
     },
     "A/B slots of the root image (a, b), instead of image"},
    {"rootfs.tries", KeyType::kInt, CmdlineRule::kSignedOnly, INT_SETTER(rootfs.tries, 1, 100),
     "trial boots of a new slot before falling back to the other"},
    {"rootfs.name", KeyType::kString, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       if (!v.str.empty()) INITOS_TRY(ValidateImageName(v.str));
       c.rootfs.name = v.str;
       return {};
     },
     "the image name the signed manifest must carry"},
    {"rootfs.keys", KeyType::kStringList, CmdlineRule::kSignedOnly, SetKeys,
     "trusted public keys (PEM files in the initramfs)"},
    {"rootfs.min-version", KeyType::kInt, CmdlineRule::kRaiseOnly, SetMinVersion,
     "lowest image version accepted (anti-rollback)"},
    {"rootfs.on-failure", KeyType::kString, CmdlineRule::kNever,
     ENUM_SETTER(rootfs.on_failure, kOnFailureNames), "what to do when the image fails to verify"},
    {"rootfs.on-corruption", KeyType::kString, CmdlineRule::kNever,
     ENUM_SETTER(rootfs.on_corruption, kCorruptionNames), "dm-verity reaction to corrupt blocks"},
    {"rootfs.insecure-dev-mode", KeyType::kBool, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       c.rootfs.insecure_dev_mode = v.boolean;
       return {};
     },
     "development only: unsigned images boot, recovery shell, every override"},
    {"state.device", KeyType::kString, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(ValidateDeviceSpec(v.str));
       c.state.device = v.str;
       return {};
     },
     "ext4 state partition"},
    {"state.create", KeyType::kBool, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       c.state.create = v.boolean;
       return {};
     },
     "create the state filesystem if the partition is empty"},
    {"state.partition-type", KeyType::kString, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       if (!v.str.empty()) INITOS_TRY(ValidateGuid(v.str));
       c.state.partition_type = v.str;
       return {};
     },
     "GPT partition type GUID the state partition must carry"},
    {"state.persistent", KeyType::kStringList, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(CheckDirList(v.list));
       c.state.persistent = v.list;
       return {};
     },
     "directories whose changes persist on the state partition"},
    {"state.allow-exec", KeyType::kStringList, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       INITOS_TRY(CheckDirList(v.list));
       c.state.allow_exec = v.list;
       return {};
     },
     "persistent directories mounted without noexec"},
    {"sidecar.enable", KeyType::kBool, CmdlineRule::kNever,
     [](Config& c, const KeyValue& v) -> Result<void> {
       c.sidecar.enable = v.boolean;
       return {};
     },
     "run the SSH sidecar"},
    {"sidecar.listen", KeyType::kStringList, CmdlineRule::kNever, SetListen,
     "addresses the sidecar listens on"},
    {"sidecar.authorized-keys", KeyType::kStringList, CmdlineRule::kNever, SetAuthorizedKeys,
     "OpenSSH public keys allowed to log in"},
    {"sidecar.start", KeyType::kString, CmdlineRule::kNever,
     ENUM_SETTER(sidecar.start, kSidecarStartNames),
     "switch-root: start the sidecar before handover or from a systemd unit"},
    {"guest.jail", KeyType::kString, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       if (!v.str.empty()) INITOS_TRY(ValidateJailName(v.str));
       c.guest.jail = v.str;
       return {};
     },
     "VM jail guest: the jail's name, for the READY report"},
    {"guest.vsock", KeyType::kBool, CmdlineRule::kSignedOnly,
     [](Config& c, const KeyValue& v) -> Result<void> {
       c.guest.vsock = v.boolean;
       return {};
     },
     "VM jail guest: run the vsock agent and report READY to the host"},
};

#undef INT_SETTER
#undef ENUM_SETTER

std::string_view TypeName(KeyType t) {
  switch (t) {
    case KeyType::kString:
      return "string";
    case KeyType::kBool:
      return "bool";
    case KeyType::kInt:
      return "integer";
    case KeyType::kStringList:
      return "string list";
    case KeyType::kStringTable:
      return "table";
  }
  return "?";
}

// How to write a value of the type, for "wrong type" messages.
std::string TypeHint(const KeySpec& k) {
  std::string_view leaf = k.name.substr(k.name.rfind('.') + 1);
  switch (k.type) {
    case KeyType::kString:
      return "a string; write e.g. " + std::string(leaf) + " = \"...\"";
    case KeyType::kBool:
      return "true or false (no quotes)";
    case KeyType::kInt:
      return "an integer (no quotes); write e.g. " + std::string(leaf) + " = 5";
    case KeyType::kStringList:
      return "a list of strings; write e.g. " + std::string(leaf) + " = [\"a\", \"b\"]";
    case KeyType::kStringTable:
      return "a table; write [" + std::string(k.name) + "] and then NAME = \"value\" lines";
  }
  return "?";
}

const KeySpec* FindKey(std::string_view name) {
  for (const auto& k : kKeys)
    if (k.name == name) return &k;
  return nullptr;
}

Result<void> CheckCmdlineOverrides(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    const KeySpec* spec = FindKey(k);
    if (IsJailKey(k))
      return Err() << "\"" << k
                   << "\": [jails] and [[jail]] keys can never come from the kernel command line; "
                      "remove it (set it in this signed file instead)";
    if (!spec)
      return Err() << "\"" << k
                   << "\" is not a config key; list dotted keys such as \"init.log-level\"";
    if (spec->cmdline == CmdlineRule::kNever || spec->cmdline == CmdlineRule::kSignedOnly)
      return Err() << "\"" << k
                   << "\" chooses what runs or what is trusted and can never come from the kernel "
                      "command line; remove it (set it in this signed file instead)";
  }
  return {};
}

// "init" for "init.mode": the TOML sections are the prefixes of the keys.
bool IsSection(std::string_view name) {
  for (const auto& k : kKeys)
    if (k.name.starts_with(name) && k.name.size() > name.size() && k.name[name.size()] == '.')
      return true;
  return false;
}

// "unknown key; did you mean init.on-exit? ..." — the fix for a typo.
std::string UnknownKeyMessage(std::string_view name) {
  const KeySpec* best = nullptr;
  size_t best_d = SIZE_MAX;
  std::string_view leaf = name.substr(name.rfind('.') + 1);
  for (const auto& k : kKeys) {
    std::string_view kleaf = k.name.substr(k.name.rfind('.') + 1);
    size_t d = std::min(EditDistance(name, k.name), EditDistance(leaf, kleaf));
    if (d < best_d) best_d = d, best = &k;
  }
  std::string msg = "unknown key";
  if (best && best_d <= 3) msg += "; did you mean " + std::string(best->name) + "?";
  msg += " (every key is listed in configs/initos.toml)";
  return msg;
}

std::string UnknownSectionMessage(std::string_view name) {
  std::string sections;
  std::vector<std::string_view> seen;
  for (const auto& k : kKeys) {
    std::string_view sec = k.name.substr(0, k.name.find('.'));
    if (std::find(seen.begin(), seen.end(), sec) != seen.end()) continue;
    seen.push_back(sec);
    sections += (sections.empty() ? "[" : ", [") + std::string(sec) + "]";
  }
  return "unknown section [" + std::string(name) + "]; the sections are " + sections +
         ", [jails] and [[jail]]";
}

// ---- TOML walker -----------------------------------------------------------

class TomlWalker {
 public:
  TomlWalker(Config& config, std::string_view file, std::vector<ConfigProblem>& problems,
             JailSourceLines& jail_lines)
      : config_(config), file_(file), problems_(problems), jail_lines_(jail_lines) {}

  void WalkTable(const toml::table& table, const std::string& prefix) {
    for (auto&& [key, node] : table) {
      int line = static_cast<int>(key.source().begin.line);
      if (line == 0) line = static_cast<int>(node.source().begin.line);
      std::string name =
          prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      if (key.str().find('.') != std::string_view::npos) {
        Problem(line, name, "unknown key (quoted names with dots are not keys here)");
        continue;
      }
      JailTomlSink jails{config_, file_, problems_, jail_lines_};
      if (name == "jails") {
        ReadJailsSection(node, line, jails);
      } else if (name == "jail") {
        ReadJailEntries(node, line, jails);
      } else if (const KeySpec* spec = FindKey(name)) {
        ApplyNode(*spec, node, line);
      } else if (node.is_table() && IsSection(name)) {
        WalkTable(*node.as_table(), name);
      } else if (node.is_table()) {
        Problem(line, name, UnknownSectionMessage(name));
      } else {
        Problem(line, name, UnknownKeyMessage(name));
      }
    }
  }

 private:
  void Problem(int line, std::string key, std::string message) {
    problems_.push_back(
        ConfigProblem{std::string(file_), line, std::move(key), std::move(message)});
  }

  void WrongType(const KeySpec& spec, const toml::node& node, int line) {
    Problem(line, std::string(spec.name),
            "wrong type: got " + TomlTypeName(node) + ", expected " + TypeHint(spec));
  }

  void Set(const KeySpec& spec, const KeyValue& v, int line, std::string key) {
    auto r = spec.set(config_, v);
    if (!r.ok()) Problem(line, std::move(key), r.error().str());
  }

  void ApplyNode(const KeySpec& spec, const toml::node& node, int line) {
    KeyValue v;
    switch (spec.type) {
      case KeyType::kString:
        if (!node.is_string()) return WrongType(spec, node, line);
        v.str = node.as_string()->get();
        break;
      case KeyType::kBool:
        if (!node.is_boolean()) return WrongType(spec, node, line);
        v.boolean = node.as_boolean()->get();
        break;
      case KeyType::kInt:
        if (!node.is_integer()) return WrongType(spec, node, line);
        v.integer = node.as_integer()->get();
        break;
      case KeyType::kStringList: {
        if (!node.is_array()) return WrongType(spec, node, line);
        for (const auto& item : *node.as_array()) {
          if (!item.is_string())
            return Problem(line, std::string(spec.name),
                           "wrong type: entry " + std::to_string(v.list.size() + 1) + " is " +
                               TomlTypeName(item) + ", expected " + TypeHint(spec));
          v.list.push_back(item.as_string()->get());
        }
        break;
      }
      case KeyType::kStringTable:
        if (!node.is_table()) return WrongType(spec, node, line);
        return ApplyTable(spec, *node.as_table());
    }
    Set(spec, v, line, std::string(spec.name));
  }

  void ApplyTable(const KeySpec& spec, const toml::table& table) {
    for (auto&& [key, node] : table) {
      int line = static_cast<int>(key.source().begin.line);
      std::string name = std::string(spec.name) + "." + std::string(key.str());
      if (!node.is_string()) {
        Problem(line, name,
                "wrong type: got " + TomlTypeName(node) + ", expected a string; write e.g. " +
                    std::string(key.str()) + " = \"...\"");
        continue;
      }
      KeyValue v;
      v.entry = key.str();
      v.str = node.as_string()->get();
      Set(spec, v, line, name);
    }
  }

  Config& config_;
  std::string_view file_;
  std::vector<ConfigProblem>& problems_;
  JailSourceLines& jail_lines_;
};

// Cross-key mistakes that no single value shows.
void CheckConsistency(const Config& c, std::string_view file,
                      std::vector<ConfigProblem>& problems) {
  if (c.init.on_exit == OnExit::kShell && !c.init.allow_shell)
    problems.push_back(ConfigProblem{
        std::string(file), 0, "init.on-exit",
        "\"shell\" needs init.allow-shell = true (signed config), otherwise the shell never "
        "starts; set allow-shell = true or pick another on-exit"});
  // A partition without a filesystem has no filesystem label, so LABEL= can
  // never find the partition that create = true is meant to format.
  if (c.state.create && c.state.device.starts_with("LABEL="))
    problems.push_back(ConfigProblem{
        std::string(file), 0, "state.create",
        "create = true needs state.device = \"PARTLABEL=name\" (an empty partition has no "
        "filesystem label for " +
            c.state.device +
            " to match); name the GPT partition (sgdisk -c N:state) and use PARTLABEL=, or set "
            "create = false"});
  // Formatting destroys data: the partition must be named by something only
  // the signed config knows, not by a label anyone can give a partition.
  // SERIAL= names a whole disk the VM jail supervisor attached with that
  // serial; a disk inside the guest cannot rename itself.
  if (c.state.create && !c.state.device.starts_with("PARTUUID=") &&
      !c.state.device.starts_with("SERIAL=") && c.state.partition_type.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "state.create",
        "create = true needs the partition identified by more than a label: set "
        "state.partition-type = \"GUID\" (sgdisk -t N:GUID) or state.device = \"PARTUUID=...\"",
        true});
  if (c.state.device.starts_with("SERIAL=") && !c.state.partition_type.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "state.partition-type",
        "state.device = \"" + c.state.device +
            "\" is a whole disk, which has no partition type to check; remove partition-type",
        true});
  if (!c.init.os_argv.empty() && !c.init.os_init.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "init.os-argv",
        "init.os-argv and init.os-init are both set; keep one (os-argv is the whole argv of the "
        "OS's first program)",
        true});
  if (!c.init.os_argv.empty() && c.init.mode != InitMode::kSwitchRoot)
    problems.push_back(ConfigProblem{
        std::string(file), 0, "init.os-argv",
        "init.os-argv is only used by mode = \"switch-root\"; set that mode or remove os-argv",
        true});
  if (c.guest.vsock && c.init.mode != InitMode::kSwitchRoot)
    problems.push_back(ConfigProblem{
        std::string(file), 0, "guest.vsock",
        "guest.vsock is only used by mode = \"switch-root\" (a VM jail's guest); set that mode "
        "or remove it",
        true});
  if (c.guest.vsock && c.guest.jail.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "guest.vsock",
        "guest.vsock needs guest.jail, the name the READY report carries; set jail = \"NAME\"",
        true});
  if (!c.rootfs.image.empty() && c.rootfs.name.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "rootfs.name",
        "rootfs.image is set but rootfs.name is not: set name = \"...\" to the --name your "
        "images are built with, so an image of another product is refused",
        true});
  // A/B slots: one way to name the root, a record to choose by, a name.
  if (!c.rootfs.slots.empty() && !c.rootfs.image.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "rootfs.slots",
        "rootfs.image and rootfs.slots are both set; keep slots (A/B upgrades) or image "
        "(one fixed image), not both",
        true});
  if (!c.rootfs.slots.empty() && c.state.device.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "rootfs.slots",
        "rootfs.slots needs a state partition for the boot-state record: set state.device "
        "(e.g. \"PARTLABEL=state\")",
        true});
  if (!c.rootfs.slots.empty() && c.rootfs.image.empty() && c.rootfs.name.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "rootfs.name",
        "rootfs.slots is set but rootfs.name is not: set name = \"...\" to the --name your "
        "images are built with, so an image of another product is refused",
        true});
  for (const std::string& d : c.state.allow_exec)
    if (std::find(c.state.persistent.begin(), c.state.persistent.end(), d) ==
        c.state.persistent.end())
      problems.push_back(ConfigProblem{std::string(file), 0, "state.allow-exec",
                                       "\"" + d +
                                           "\" is not in state.persistent; list only persistent "
                                           "directories here",
                                       true});
  if (c.init.mode == InitMode::kJails && c.jails.jails.empty())
    problems.push_back(ConfigProblem{
        std::string(file), 0, "init.mode",
        "\"jails\" needs at least one [[jail]] entry, otherwise nothing would run; add one (see "
        "configs/jails.toml) or use \"run\" or \"switch-root\"",
        true});
}

// A problem in the signed file on a key that chooses what runs or what is
// trusted must not leave that key at a default (an unverified boot, say):
// such problems stop the boot. Unknown keys in those sections too, since a
// typo there would silently drop a setting.
bool IsFatalKey(std::string_view key) {
  const KeySpec* spec = FindKey(key);
  if (!spec) {
    size_t dot = key.rfind('.');
    if (dot != std::string_view::npos) spec = FindKey(key.substr(0, dot));
  }
  if (spec)
    return spec->cmdline == CmdlineRule::kNever || spec->cmdline == CmdlineRule::kSignedOnly;
  if (IsJailKey(key)) return true;
  std::string_view section = key.substr(0, key.find('.'));
  return section == "rootfs" || section == "state" || section == "sidecar" || section == "guest";
}

// ---- kernel command-line values -------------------------------------------

Result<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return Err() << "\"" << s << "\" is not a bool; use true/false, 1/0 or yes/no";
}

Result<int64_t> ParseInt(std::string_view s) {
  std::string_view digits = s.starts_with('-') ? s.substr(1) : s;
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != digits.npos)
    return Err() << "\"" << s << "\" is not an integer; use decimal digits, e.g. 5";
  int64_t v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return s.starts_with('-') ? -v : v;
}

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    out.emplace_back(s.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string_view CmdlineRuleName(CmdlineRule r) {
  switch (r) {
    case CmdlineRule::kListable:
      return "listable";
    case CmdlineRule::kNever:
      return "never";
    case CmdlineRule::kSignedOnly:
      return "signed only";
    case CmdlineRule::kRaiseOnly:
      return "raise only";
  }
  return "?";
}

}  // namespace

std::string ConfigProblem::str() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

ParsedConfig ParseConfig(std::string_view toml_text, std::string_view filename) {
  ParsedConfig out;
  toml::parse_result parsed = toml::parse(toml_text, filename);
  if (!parsed) {
    const auto& err = parsed.error();
    out.problems.push_back(ConfigProblem{std::string(filename),
                                         static_cast<int>(err.source().begin.line), "",
                                         "TOML syntax error: " + std::string(err.description()) +
                                             "; fix the syntax (see configs/initos.toml)"});
    return out;
  }
  JailSourceLines jail_lines;
  TomlWalker(out.config, filename, out.problems, jail_lines).WalkTable(parsed.table(), "");
  // One problem per key: a value that did not parse is not checked again
  // (its field kept the default, which would only add a confusing second line).
  for (ConfigProblem& p : CheckJails(out.config, filename, jail_lines)) {
    bool seen = std::any_of(out.problems.begin(), out.problems.end(),
                            [&](const ConfigProblem& q) { return q.key == p.key; });
    if (!seen) out.problems.push_back(std::move(p));
  }
  for (ConfigProblem& p : out.problems) p.fatal = p.fatal || IsFatalKey(p.key);
  // toml++ tables iterate in key order; report in file order.
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
  CheckConsistency(out.config, filename, out.problems);
  return out;
}

Result<void> ApplyOverride(Config& config, std::string_view key, std::string_view value) {
  if (IsJailKey(key))
    return Err() << "refused: [jails] and [[jail]] keys decide what runs in a jail and how it is "
                    "confined; only the signed config sets them, never the kernel command line "
                    "(not even in development mode)";
  const KeySpec* spec = FindKey(key);
  KeyValue v;
  if (!spec) {
    // "init.env.PATH": an entry of a table key.
    size_t dot = key.rfind('.');
    if (dot != std::string_view::npos) spec = FindKey(key.substr(0, dot));
    if (!spec || spec->type != KeyType::kStringTable) return Err() << UnknownKeyMessage(key);
    v.entry = key.substr(dot + 1);
  } else if (spec->type == KeyType::kStringTable) {
    return Err() << "set one entry at a time: " << key << ".NAME=value";
  }
  if (spec->cmdline == CmdlineRule::kSignedOnly)
    return Err() << "refused: can only be set in the signed config, never on the kernel command "
                    "line (it would weaken verification)";
  // Not even in development mode: an empty image or state device on the
  // command line would turn verification or the rollback record off.
  if (value.empty() &&
      (spec->name == "rootfs.image" || spec->name == "rootfs.name" || spec->name == "state.device"))
    return Err() << "refused: an empty value would disable verification or the rollback record; "
                    "only the signed config can leave "
                 << spec->name << " unset";
  if (!DevelopmentMode(config)) {
    if (spec->cmdline == CmdlineRule::kNever)
      return Err() << "refused: it chooses what runs or what is trusted, which only the signed "
                      "config decides (development mode, rootfs.insecure-dev-mode, lifts this)";
  }
  switch (spec->type) {
    case KeyType::kString:
    case KeyType::kStringTable:
      v.str = value;
      break;
    case KeyType::kBool: {
      auto b = ParseBool(value);
      if (!b.ok()) return b.error();
      v.boolean = *b;
      break;
    }
    case KeyType::kInt: {
      auto i = ParseInt(value);
      if (!i.ok()) return i.error();
      v.integer = *i;
      break;
    }
    case KeyType::kStringList:
      v.list = SplitComma(value);
      break;
  }
  if (spec->cmdline == CmdlineRule::kRaiseOnly && spec->name == "rootfs.min-version" &&
      (v.integer < 0 || static_cast<uint64_t>(v.integer) < config.rootfs.min_version))
    return Err() << "refused: it would lower the anti-rollback floor below "
                 << config.rootfs.min_version
                 << " of the signed config; the kernel command line may only raise it, lower it "
                    "in the signed config";
  // After the value check, so a lowered floor is named as such even when
  // the key is not listed.
  const auto& allowed = config.init.cmdline_overrides;
  if (!DevelopmentMode(config) &&
      std::find(allowed.begin(), allowed.end(), spec->name) == allowed.end())
    return Err() << "refused: not listed in init.cmdline-overrides of the signed config; add \""
                 << spec->name << "\" there to allow it";
  return spec->set(config, v);
}

ParsedConfig LoadConfig(std::string_view toml_text, std::string_view filename,
                        std::string_view kernel_cmdline) {
  ParsedConfig out = ParseConfig(toml_text, filename);
  std::vector<ConfigProblem> file_consistency;
  CheckConsistency(out.config, filename, file_consistency);
  auto cmdline_problems = ApplyKernelCmdline(out.config, ParseKernelCmdline(kernel_cmdline));
  // Overrides can create a cross-key mistake the file did not have.
  if (file_consistency.empty())
    CheckConsistency(out.config, "kernel command line", cmdline_problems);
  out.problems.insert(out.problems.end(), cmdline_problems.begin(), cmdline_problems.end());
  FillSignalDefaults(out.config.init);
  return out;
}

void FillSignalDefaults(InitConfig& init) {
  const std::pair<int, SignalAction> defaults[] = {
      {SIGTERM, SignalAction::kReboot},   {SIGUSR1, SignalAction::kHalt},
      {SIGUSR2, SignalAction::kPoweroff}, {SIGPWR, SignalAction::kPoweroff},
      {SIGINT, SignalAction::kReboot},    {SIGHUP, SignalAction::kForward},
      {SIGQUIT, SignalAction::kForward},  {SIGWINCH, SignalAction::kForward},
      {SIGCONT, SignalAction::kForward},
  };
  // emplace keeps entries the config already set.
  for (const auto& [signo, action] : defaults) init.signals.emplace(signo, action);
}

std::vector<ConfigKeyInfo> ConfigKeys() {
  std::vector<ConfigKeyInfo> out;
  for (const auto& k : kKeys)
    out.push_back(ConfigKeyInfo{k.name, TypeName(k.type), CmdlineRuleName(k.cmdline), k.doc});
  return out;
}

std::string_view OnExitName(OnExit v) {
  return NameOf(std::span(kOnExitNames), v);
}
std::string_view SignalActionName(SignalAction v) {
  return NameOf(std::span(kSignalActionNames), v);
}
std::string_view InitModeName(InitMode v) {
  return NameOf(std::span(kModeNames), v);
}
std::string_view OnFailureName(OnFailure v) {
  return NameOf(std::span(kOnFailureNames), v);
}
std::string_view CorruptionPolicyName(CorruptionPolicy v) {
  return NameOf(std::span(kCorruptionNames), v);
}
std::string_view SidecarStartName(SidecarStart v) {
  return NameOf(std::span(kSidecarStartNames), v);
}

bool DevelopmentMode(const Config& config) {
  return config.rootfs.insecure_dev_mode;
}

std::optional<int> LogLevelPriority(std::string_view name) {
  for (size_t i = 0; i < std::size(kLogLevels); ++i)
    if (kLogLevels[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

}  // namespace format
}  // namespace initos
