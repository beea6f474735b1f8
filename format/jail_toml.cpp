// Reading [jails] and [[jail]] from TOML: each key has one reader that turns
// its node into the field (types, enum names, sizes, signal names). Rules
// that involve more than one value are in format/jail_check.cpp, so that
// configs built in code (tests, `initos jail run`) get the same checks.
#include "format/jail_toml.h"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "base/signals.h"
#include "format/config_values.h"

namespace initos {
inline namespace format {
namespace {

using Node = toml::node;

std::string WrongType(const Node& n, std::string_view expected) {
  return "wrong type: got " + TomlTypeName(n) + ", expected " + std::string(expected);
}

Result<std::string> Str(const Node& n, std::string_view key) {
  if (!n.is_string())
    return Err() << WrongType(n, "a string") << "; write e.g. " << key << " = \"...\"";
  return std::string(n.as_string()->get());
}

Result<bool> Bool(const Node& n, std::string_view) {
  if (!n.is_boolean()) return Err() << WrongType(n, "true or false (no quotes)");
  return n.as_boolean()->get();
}

Result<int64_t> Int(const Node& n, std::string_view key, int64_t lo, int64_t hi) {
  if (!n.is_integer())
    return Err() << WrongType(n, "an integer (no quotes)") << "; write e.g. " << key << " = 5";
  int64_t v = n.as_integer()->get();
  if (v < lo || v > hi)
    return Err() << "value " << v << " is out of range; use an integer from " << lo << " to " << hi;
  return v;
}

Result<std::vector<std::string>> StrList(const Node& n, std::string_view key) {
  std::string hint = "a list of strings; write e.g. " + std::string(key) + " = [\"a\", \"b\"]";
  if (!n.is_array()) return Err() << WrongType(n, hint);
  std::vector<std::string> out;
  for (const auto& item : *n.as_array()) {
    if (!item.is_string())
      return Err() << "wrong type: entry " << out.size() + 1 << " is " << TomlTypeName(item)
                   << ", expected " << hint;
    out.emplace_back(item.as_string()->get());
  }
  return out;
}

template <typename E>
struct Named {
  std::string_view name;
  E value;
};

template <typename E, size_t N>
Result<E> Enum(const Node& n, std::string_view key, const Named<E> (&names)[N]) {
  auto s = Str(n, key);
  if (!s.ok()) return s.error();
  std::string all;
  for (const auto& e : names) {
    if (e.name == *s) return e.value;
    all += (all.empty() ? "" : ", ") + std::string(e.name);
  }
  return Err() << "unknown value \"" << *s << "\"; expected one of " << all;
}

constexpr Named<JailKind> kKinds[] = {{"privileged", JailKind::kPrivileged},
                                      {"unprivileged", JailKind::kUnprivileged},
                                      {"vm", JailKind::kVm}};
constexpr Named<RestartPolicy> kRestarts[] = {{"never", RestartPolicy::kNever},
                                              {"on-failure", RestartPolicy::kOnFailure},
                                              {"always", RestartPolicy::kAlways}};
constexpr Named<JailNetworkKind> kNetworks[] = {
    {"none", JailNetworkKind::kNone}, {"loopback", JailNetworkKind::kLoopback},
    {"veth", JailNetworkKind::kVeth}, {"macvlan", JailNetworkKind::kMacvlan},
    {"user", JailNetworkKind::kUser}, {"tap", JailNetworkKind::kTap}};
constexpr Named<JailMount::Type> kMountTypes[] = {{"bind", JailMount::Type::kBind},
                                                  {"tmpfs", JailMount::Type::kTmpfs}};

// Bytes: an integer, or a string with a binary suffix ("512M").
Result<uint64_t> Bytes(const Node& n, std::string_view key) {
  if (n.is_string()) return ParseByteSize(n.as_string()->get());
  if (!n.is_integer())
    return Err() << WrongType(n, "bytes") << "; write e.g. " << key << " = \"512M\" or " << key
                 << " = 536870912";
  int64_t v = n.as_integer()->get();
  if (v < 0) return Err() << "value " << v << " is negative; use 0 or more bytes";
  return static_cast<uint64_t>(v);
}

// A user or group: a name or a number (a TOML integer is taken as the id).
Result<std::string> Account(const Node& n, std::string_view key) {
  if (n.is_integer()) {
    auto v = Int(n, key, 0, UINT32_MAX - 1);
    if (!v.ok()) return v.error();
    return std::to_string(*v);
  }
  if (!n.is_string())
    return Err() << WrongType(n, "a name or a number") << "; write e.g. " << key
                 << " = \"www-data\" or " << key << " = 33";
  return std::string(n.as_string()->get());
}

// {host = N, count = N}
Result<IdRange> IdMap(const Node& n, std::string_view key) {
  std::string hint = "; write e.g. " + std::string(key) + " = {host = 100000, count = 65536}";
  if (!n.is_table()) return Err() << WrongType(n, "an inline table") << hint;
  IdRange r;
  bool host = false, count = false;
  for (auto&& [k, v] : *n.as_table()) {
    if (k.str() != "host" && k.str() != "count")
      return Err() << "unknown key \"" << k.str() << "\"; only host and count" << hint;
    auto i = Int(v, k.str(), 0, UINT32_MAX);
    if (!i.ok()) return Err() << k.str() << ": " << i.error().str();
    (k.str() == "host" ? r.host : r.count) = static_cast<uint32_t>(*i);
    (k.str() == "host" ? host : count) = true;
  }
  if (!host || !count) return Err() << "needs both host and count" << hint;
  return r;
}

Result<JailMount> Mount(const Node& n, size_t index) {
  std::string at = "entry " + std::to_string(index) + ": ";
  std::string hint =
      "; write e.g. {type = \"bind\", source = \"/srv/data\", target = \"/data\", read-only = "
      "false}";
  if (!n.is_table()) return Err() << at << WrongType(n, "an inline table") << hint;
  JailMount m;
  for (auto&& [k, v] : *n.as_table()) {
    std::string_view key = k.str();
    Result<void> r;
    if (key == "type") {
      auto t = Enum(v, key, kMountTypes);
      if (t.ok())
        m.type = *t;
      else
        r = t.error();
    } else if (key == "source" || key == "target" || key == "size") {
      auto s = Str(v, key);
      if (s.ok())
        (key == "source" ? m.source : key == "target" ? m.target : m.size) = *s;
      else
        r = s.error();
    } else if (key == "read-only") {
      auto b = Bool(v, key);
      if (b.ok())
        m.read_only = *b;
      else
        r = b.error();
    } else {
      return Err() << at << "unknown key \"" << key
                   << "\"; a mount has type, source, target, read-only and size";
    }
    if (!r.ok()) return Err() << at << key << ": " << r.error().str();
  }
  if (m.target.empty()) return Err() << at << "target is required" << hint;
  return m;
}

using Reader = Result<void> (*)(JailConfig&, const Node&, std::string_view key);

// Assigns a reader's result to a field.
#define READ(field, expr)                                                  \
  [](JailConfig& j, const Node& n, std::string_view key) -> Result<void> { \
    auto r = (expr);                                                       \
    if (!r.ok()) return r.error();                                         \
    j.field = *r;                                                          \
    return {};                                                             \
  }

struct JailKey {
  std::string_view name;
  Reader read;
};

// Every [[jail]] key, in the order of configs/jails.toml.
const JailKey
    kJailKeys
        [] =
            {
                {"name", READ(name, Str(n, key))},
                {"kind", READ(kind, Enum(n, key, kKinds))},
                {"rootfs", READ(rootfs, Str(n, key))},
                {"rootfs-name", READ(rootfs_name, Str(n, key))},
                {"rootfs-slots", READ(rootfs_slots, StrList(n, key))},
                {"rootfs-tries",
                 [](JailConfig& j, const Node& n, std::string_view key) -> Result<void> {
                   auto v = Int(n, key, 1, 100);
                   if (!v.ok()) return v.error();
                   j.rootfs_tries = static_cast<uint32_t>(*v);
                   return {};
                 }},
                {"upper", READ(upper, Str(n, key))},
                {"command", READ(command, StrList(n, key))},
                {"reaper", READ(reaper, Bool(n, key))},
                {"helpers",
                 [](JailConfig& j, const Node& n, std::string_view) -> Result<void> {
                   std::string hint =
                       "a list of argv lists; write e.g. helpers = [[\"/bin/setup\", \"--x\"]]";
                   if (!n.is_array()) return Err() << WrongType(n, hint);
                   std::vector<std::vector<std::string>> helpers;
                   for (const auto& item : *n.as_array()) {
                     auto argv = StrList(item, "helpers");
                     if (!argv.ok())
                       return Err()
                              << "helper " << helpers.size() + 1 << ": "
                              << (item.is_array() ? argv.error().str() : WrongType(item, hint));
                     helpers.push_back(*argv);
                   }
                   j.helpers = helpers;
                   return {};
                 }},
                {"env",
                 [](JailConfig& j, const Node& n, std::string_view) -> Result<void> {
                   if (!n.is_table())
                     return Err() << WrongType(n,
                                               "a table; write env = {PATH = \"/usr/bin:/bin\"}");
                   std::map<std::string, std::string> env;
                   for (auto&& [k, v] : *n.as_table()) {
                     if (!v.is_string())
                       return Err() << k.str() << ": " << WrongType(v, "a string")
                                    << "; write e.g. " << k.str() << " = \"...\"";
                     env[std::string(k.str())] = v.as_string()->get();
                   }
                   j.env = env;
                   return {};
                 }},
                {"hostname", READ(hostname, Str(n, key))},
                {"user", READ(user, Account(n, key))},
                {"group", READ(group, Account(n, key))},
                {"uid-map", READ(uid_map, IdMap(n, key))},
                {"gid-map", READ(gid_map, IdMap(n, key))},
                {"capabilities", READ(capabilities, StrList(n, key))},
                {"seccomp", READ(seccomp, Str(n, key))},
                {"no-new-privileges", READ(no_new_privileges, Bool(n, key))},
                {"memory-max", READ(limits.memory_max, Bytes(n, key))},
                {"memory-high", READ(limits.memory_high, Bytes(n, key))},
                {"pids-max", READ(limits.pids_max, Int(n, key, 0, INT64_MAX))},
                {"cpu-max", READ(limits.cpu_max, Str(n, key))},
                {"cpu-weight", READ(limits.cpu_weight, Int(n, key, 0, UINT32_MAX))},
                {"io-max", READ(limits.io_max, StrList(n, key))},
                {"rlimits",
                 [](JailConfig& j, const Node& n, std::string_view) -> Result<void> {
                   if (!n.is_table())
                     return Err() << WrongType(
                                n, "a table; write rlimits = {nofile = 4096, core = 0}");
                   std::map<std::string, Rlimit> limits;
                   for (auto&& [k, v] : *n.as_table()) {
                     Result<Rlimit> r = Err() << "";
                     if (v.is_integer() && v.as_integer()->get() >= 0)
                       r = Rlimit{static_cast<uint64_t>(v.as_integer()->get()),
                                  static_cast<uint64_t>(v.as_integer()->get())};
                     else if (v.is_string())
                       r = ParseRlimit(v.as_string()->get());
                     else
                       r = Err() << WrongType(v, "an integer >= 0, \"unlimited\" or \"SOFT:HARD\"");
                     if (!r.ok()) return Err() << k.str() << ": " << r.error().str();
                     limits[std::string(k.str())] = *r;
                   }
                   j.rlimits = limits;
                   return {};
                 }},
                {"mounts",
                 [](JailConfig& j, const Node& n, std::string_view) -> Result<void> {
                   if (!n.is_array())
                     return Err() << WrongType(n,
                                               "a list of inline tables; write mounts = [{type = "
                                               "\"tmpfs\", target = \"/tmp\"}]");
                   std::vector<JailMount> mounts;
                   for (const auto& item : *n.as_array()) {
                     auto m = Mount(item, mounts.size() + 1);
                     if (!m.ok()) return m.error();
                     mounts.push_back(*m);
                   }
                   j.mounts = mounts;
                   return {};
                 }},
                {"devices", READ(devices, StrList(n, key))},
                {"network", READ(network.kind, Enum(n, key, kNetworks))},
                {"host-interface", READ(network.host_interface, Str(n, key))},
                {"host-address", READ(network.host_address, Str(n, key))},
                {"addresses", READ(network.addresses, StrList(n, key))},
                {"gateway", READ(network.gateway, Str(n, key))},
                {"routes", READ(network.routes, StrList(n, key))},
                {"restart", READ(restart, Enum(n, key, kRestarts))},
                {"restart-delay-ms", READ(restart_delay_ms, Int(n, key, INT_MIN, INT_MAX))},
                {"restart-max-delay-ms", READ(restart_max_delay_ms, Int(n, key, INT_MIN, INT_MAX))},
                {"restart-limit", READ(restart_limit, Int(n, key, INT_MIN, INT_MAX))},
                {"restart-window-s", READ(restart_window_s, Int(n, key, INT_MIN, INT_MAX))},
                {"stop-signal",
                 [](JailConfig& j, const Node& n, std::string_view key) -> Result<void> {
                   auto s = Str(n, key);
                   if (!s.ok()) return s.error();
                   auto signo = SignalFromName(*s);
                   if (!signo)
                     return Err() << "unknown signal \"" << *s
                                  << "\"; use a name such as \"SIGTERM\" or \"SIGRTMIN+3\" "
                                     "(numbers are not "
                                     "accepted)";
                   j.stop_signal = *signo;
                   return {};
                 }},
                {"stop-timeout-ms", READ(stop_timeout_ms, Int(n, key, INT_MIN, INT_MAX))},
                {"start-after", READ(start_after, Str(n, key))},
                // kind = "vm" only (ranges and combinations: format/jail_check.cpp).
                {"machine", READ(vm.machine, Str(n, key))},
                {"cpus", READ(vm.cpus, Int(n, key, INT_MIN, INT_MAX))},
                {"memory", READ(vm.memory, Bytes(n, key))},
                {"accel", READ(vm.accel, Str(n, key))},
                {"kernel", READ(vm.kernel, Str(n, key))},
                {"kernel-modules", READ(vm.kernel_modules, Str(n, key))},
                {"kernel-args", READ(vm.kernel_args, StrList(n, key))},
                {"state-disk", READ(vm.state_disk, Str(n, key))},
                {"vsock", READ(vm.vsock, Bool(n, key))},
};

using SectionReader = Result<void> (*)(JailsConfig&, const Node&, std::string_view key);

#define SECTION_READ(field, expr)                                           \
  [](JailsConfig& j, const Node& n, std::string_view key) -> Result<void> { \
    auto r = (expr);                                                        \
    if (!r.ok()) return r.error();                                          \
    j.field = static_cast<decltype(j.field)>(*r);                           \
    return {};                                                              \
  }

struct SectionKey {
  std::string_view name;
  SectionReader read;
};

const SectionKey kSectionKeys[] = {
    {"mark-good-after-s", SECTION_READ(mark_good_after_s, Int(n, key, INT_MIN, INT_MAX))},
    {"uid-pool-start", SECTION_READ(uid_pool_start, Int(n, key, 0, UINT32_MAX))},
    {"uid-pool-size", SECTION_READ(uid_pool_size, Int(n, key, 0, UINT32_MAX))},
    {"range-size", SECTION_READ(range_size, Int(n, key, 0, UINT32_MAX))},
    {"read-group", SECTION_READ(read_group, Int(n, key, INT64_MIN, INT64_MAX))},
    {"socket", SECTION_READ(socket, Str(n, key))},
    {"log-ring-bytes", SECTION_READ(log_ring_bytes, Bytes(n, key))},
    {"log-file-bytes", SECTION_READ(log_file_bytes, Bytes(n, key))},
    {"log-files", SECTION_READ(log_files, Int(n, key, INT_MIN, INT_MAX))},
};

#undef READ
#undef SECTION_READ

std::string DidYouMean(std::string_view key, const std::vector<std::string_view>& known,
                       std::string_view where) {
  std::string_view best;
  size_t best_d = SIZE_MAX;
  for (auto k : known) {
    size_t d = EditDistance(key, k);
    // A key cut short ("uid-pool" for uid-pool-start) is a near miss too.
    if (key.size() >= 4 && k.starts_with(key)) d = std::min<size_t>(d, 1);
    if (d < best_d) best_d = d, best = k;
  }
  std::string msg = "unknown key";
  if (best_d <= 3) msg += "; did you mean " + std::string(best) + "?";
  return msg + " (every " + std::string(where) + " key is listed in configs/jails.toml)";
}

int LineOf(const toml::key& key, const Node& node) {
  int line = static_cast<int>(key.source().begin.line);
  return line ? line : static_cast<int>(node.source().begin.line);
}

void Problem(JailTomlSink& s, int line, std::string key, std::string message) {
  s.problems.push_back(
      ConfigProblem{std::string(s.file), line, std::move(key), std::move(message), true});
}

void ReadJail(const toml::table& table, size_t index, JailTomlSink& s) {
  JailConfig j;
  j.line = static_cast<int>(table.source().begin.line);
  std::map<std::string, int> lines;
  // The name first: every problem of the entry carries it.
  if (const Node* n = table.get("name"); n && n->is_string()) j.name = n->as_string()->get();
  std::string prefix = JailProblemKey(j, index);
  for (auto&& [key, node] : table) {
    int line = LineOf(key, node);
    std::string leaf(key.str());
    lines[leaf] = line;
    const JailKey* spec = nullptr;
    for (const auto& k : kJailKeys)
      if (k.name == leaf) spec = &k;
    if (!spec) {
      Problem(s, line, prefix + "." + leaf, DidYouMean(leaf, JailEntryKeys(), "[[jail]]"));
      continue;
    }
    if (auto r = spec->read(j, node, leaf); !r.ok()) {
      Problem(s, line, prefix + "." + leaf, r.error().str());
      continue;
    }
    // Entries of tables and lists on their own lines, for the checks' messages.
    if (node.is_table())
      for (auto&& [k, v] : *node.as_table())
        lines[leaf + "." + std::string(k.str())] = LineOf(k, v);
    if (leaf == "mounts")
      for (size_t i = 0; i < node.as_array()->size(); ++i)
        lines["mounts." + std::to_string(i + 1)] =
            static_cast<int>((*node.as_array())[i].source().begin.line);
  }
  s.config.jails.jails.push_back(std::move(j));
  s.lines.entries.push_back(std::move(lines));
}

}  // namespace

std::string TomlTypeName(const toml::node& node) {
  return std::string(toml::impl::node_type_friendly_names[static_cast<int>(node.type())]);
}

std::vector<std::string_view> JailsSectionKeys() {
  std::vector<std::string_view> out;
  for (const auto& k : kSectionKeys) out.push_back(k.name);
  return out;
}

std::vector<std::string_view> JailEntryKeys() {
  std::vector<std::string_view> out;
  for (const auto& k : kJailKeys) out.push_back(k.name);
  return out;
}

void ReadJailsSection(const toml::node& node, int line, JailTomlSink& s) {
  if (node.is_array_of_tables())
    return Problem(s, line, "jails",
                   "[[jails]] is not a section; write [[jail]] (singular) once per jail and "
                   "[jails] for the shared settings");
  if (!node.is_table())
    return Problem(s, line, "jails",
                   WrongType(node, "a table; write [jails] and then KEY = value lines"));
  for (auto&& [key, value] : *node.as_table()) {
    int key_line = LineOf(key, value);
    std::string leaf(key.str());
    s.lines.section[leaf] = key_line;
    const SectionKey* spec = nullptr;
    for (const auto& k : kSectionKeys)
      if (k.name == leaf) spec = &k;
    if (!spec) {
      Problem(s, key_line, "jails." + leaf, DidYouMean(leaf, JailsSectionKeys(), "[jails]"));
      continue;
    }
    if (auto r = spec->read(s.config.jails, value, leaf); !r.ok())
      Problem(s, key_line, "jails." + leaf, r.error().str());
  }
}

void ReadJailEntries(const toml::node& node, int line, JailTomlSink& s) {
  if (node.is_table())
    return Problem(s, line, "jail",
                   "[jail] is a single table; write [[jail]] (double brackets), once per jail");
  if (!node.is_array())
    return Problem(s, line, "jail", WrongType(node, "[[jail]] entries (an array of tables)"));
  size_t index = 0;
  for (const auto& item : *node.as_array()) {
    if (!item.is_table()) {
      Problem(s, static_cast<int>(item.source().begin.line),
              "jail[" + std::to_string(index + 1) + "]",
              WrongType(item, "a table; write [[jail]] and then KEY = value lines"));
    } else {
      ReadJail(*item.as_table(), s.config.jails.jails.size(), s);
    }
    ++index;
  }
}

}  // namespace format
}  // namespace initos
