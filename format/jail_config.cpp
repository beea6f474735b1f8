// Names, the chain argv and the syntax of single [[jail]] values. Pure: the
// checks across keys and entries are in format/jail_check.cpp, the TOML
// reading in format/jail_toml.cpp.
#include "format/jail_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cstdint>

namespace initos {
inline namespace format {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsLower(char c) {
  return c >= 'a' && c <= 'z';
}
bool IsAlpha(char c) {
  return IsLower(c) || (c >= 'A' && c <= 'Z');
}

// Decimal digits only, no sign, no overflow.
std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

struct RlimitName {
  std::string_view name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

}  // namespace

std::string_view JailKindName(JailKind v) {
  switch (v) {
    case JailKind::kPrivileged:
      return "privileged";
    case JailKind::kUnprivileged:
      return "unprivileged";
    case JailKind::kVm:
      return "vm";
  }
  return "?";
}

std::string_view RestartPolicyName(RestartPolicy v) {
  switch (v) {
    case RestartPolicy::kNever:
      return "never";
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kAlways:
      return "always";
  }
  return "?";
}

std::string_view JailNetworkKindName(JailNetworkKind v) {
  switch (v) {
    case JailNetworkKind::kNone:
      return "none";
    case JailNetworkKind::kLoopback:
      return "loopback";
    case JailNetworkKind::kVeth:
      return "veth";
    case JailNetworkKind::kMacvlan:
      return "macvlan";
    case JailNetworkKind::kUser:
      return "user";
    case JailNetworkKind::kTap:
      return "tap";
  }
  return "?";
}

bool JailRootfsIsDirectory(const JailConfig& jail) {
  return jail.rootfs.starts_with("/");
}

std::vector<std::string> JailChainArgv(const JailConfig& jail) {
  std::vector<std::string> argv;
  for (const auto& h : jail.helpers) argv.insert(argv.end(), h.begin(), h.end());
  argv.insert(argv.end(), jail.command.begin(), jail.command.end());
  return argv;
}

Result<uint64_t> ParseByteSize(std::string_view s) {
  constexpr std::string_view kHint =
      "; write bytes as an integer or a string like \"512M\" "
      "(K, M, G, T: binary units)";
  uint64_t mult = 1;
  std::string_view digits = s;
  if (!s.empty() && !IsDigit(s.back())) {
    switch (s.back()) {
      case 'K':
        mult = 1ull << 10;
        break;
      case 'M':
        mult = 1ull << 20;
        break;
      case 'G':
        mult = 1ull << 30;
        break;
      case 'T':
        mult = 1ull << 40;
        break;
      default:
        return Err() << "\"" << s << "\" is not a size" << kHint;
    }
    digits.remove_suffix(1);
  }
  auto v = ParseU64(digits);
  if (!v) return Err() << "\"" << s << "\" is not a size" << kHint;
  if (*v > UINT64_MAX / mult) return Err() << "\"" << s << "\" is too large" << kHint;
  return *v * mult;
}

Result<Rlimit> ParseRlimit(std::string_view s) {
  auto one = [](std::string_view v) -> std::optional<uint64_t> {
    if (v == "unlimited") return UINT64_MAX;
    return ParseU64(v);
  };
  size_t colon = s.find(':');
  auto soft = one(s.substr(0, colon));
  auto hard = colon == std::string_view::npos ? soft : one(s.substr(colon + 1));
  if (!soft || !hard)
    return Err() << "\"" << s
                 << "\" is not an rlimit; write an integer, \"unlimited\" or \"SOFT:HARD\" "
                    "(e.g. \"1024:4096\")";
  return Rlimit{*soft, *hard};
}

std::optional<int> RlimitFromName(std::string_view name) {
  for (const auto& r : kRlimits)
    if (r.name == name) return r.resource;
  return std::nullopt;
}

Result<void> ValidateJailName(std::string_view n) {
  bool ok = !n.empty() && n.size() <= 32 && (IsLower(n[0]) || IsDigit(n[0]));
  for (char c : n) ok = ok && (IsLower(c) || IsDigit(c) || c == '_' || c == '-');
  if (!ok)
    return Err() << "\"" << n
                 << "\" is not a jail name; use 1 to 32 of a-z 0-9 _ - starting with a letter or "
                    "digit, e.g. \"debian\"";
  return {};
}

Result<void> ValidateIpAddress(std::string_view addr) {
  std::string a(addr);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1)
    return {};
  return Err() << "\"" << addr
               << "\" is not a numeric IPv4 or IPv6 address; write e.g. \"10.0.0.1\" or "
                  "\"fd00::1\"";
}

Result<void> ValidateCidr(std::string_view cidr) {
  constexpr std::string_view kHint =
      "; write ADDRESS/PREFIX, e.g. \"10.0.0.2/24\" or \"fd00::2/64\"";
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return Err() << "\"" << cidr << "\" has no /PREFIX" << kHint;
  std::string addr(cidr.substr(0, slash));
  unsigned char buf[sizeof(in6_addr)];
  int max = 0;
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1)
    max = 32;
  else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1)
    max = 128;
  else
    return Err() << "\"" << cidr << "\": \"" << addr << "\" is not a numeric address" << kHint;
  std::string_view prefix = cidr.substr(slash + 1);
  auto p = prefix.size() <= 3 ? ParseU64(prefix) : std::nullopt;
  if (!p || *p > static_cast<uint64_t>(max))
    return Err() << "\"" << cidr << "\": prefix \"" << prefix << "\" is not in 0.." << max << kHint;
  return {};
}

Result<void> ValidateRoute(std::string_view route) {
  constexpr std::string_view kVia = " via ";
  size_t via = route.find(kVia);
  INITOS_TRY(ValidateCidr(route.substr(0, via)));
  if (via == std::string_view::npos) return {};
  std::string_view gw = route.substr(via + kVia.size());
  INITOS_TRY(ValidateIpAddress(gw));
  bool dst6 = route.substr(0, via).find(':') != std::string_view::npos;
  bool gw6 = gw.find(':') != std::string_view::npos;
  if (dst6 != gw6)
    return Err() << "route \"" << route
                 << "\" mixes IPv4 and IPv6; the gateway must be of the destination's family";
  return {};
}

Result<void> ValidateHostname(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  size_t start = 0;
  while (ok && start <= name.size()) {
    size_t end = std::min(name.find('.', start), name.size());
    std::string_view label = name.substr(start, end - start);
    ok = !label.empty() && label.front() != '-' && label.back() != '-';
    for (char c : label) ok = ok && (IsAlpha(c) || IsDigit(c) || c == '-');
    start = end + 1;
  }
  if (!ok)
    return Err() << "\"" << name
                 << "\" is not a host name; use at most 64 letters, digits, - and . (labels not "
                    "starting or ending with -), e.g. \"web-1\"";
  return {};
}

Result<void> ValidateJailAccount(std::string_view a) {
  if (!a.empty() && IsDigit(a[0])) {
    auto v = ParseU64(a);
    if (v && *v < UINT32_MAX) return {};
    return Err() << "\"" << a << "\" is not a valid id; use 0 to 4294967294 or a name";
  }
  bool ok = !a.empty() && a.size() <= 32 && (IsLower(a[0]) || a[0] == '_');
  for (size_t i = 0; i < a.size(); ++i)
    ok = ok && (IsLower(a[i]) || IsDigit(a[i]) || a[i] == '_' || a[i] == '-' ||
                (a[i] == '$' && i + 1 == a.size()));
  if (!ok)
    return Err() << "\"" << a
                 << "\" is not a user or group; write a number or a name from the rootfs' "
                    "/etc/passwd or /etc/group (a-z 0-9 _ -), e.g. \"www-data\"";
  return {};
}

Result<void> ValidateEnvName(std::string_view n) {
  bool ok = !n.empty() && !IsDigit(n[0]);
  for (char c : n) ok = ok && (IsAlpha(c) || IsDigit(c) || c == '_');
  if (!ok)
    return Err() << "bad variable name \"" << n
                 << "\"; use letters, digits and _ (not starting with a digit)";
  return {};
}

Result<void> ValidateInterfaceName(std::string_view n) {
  bool ok = !n.empty() && n.size() <= 15 && n != "." && n != "..";
  for (char c : n) ok = ok && c > ' ' && c != '/' && c != ':' && c != 0x7f;
  if (!ok)
    return Err() << "\"" << n
                 << "\" is not an interface name; use 1 to 15 characters without '/', ':' or "
                    "spaces, e.g. \"eth0\"";
  return {};
}

Result<void> ValidateCpuMax(std::string_view v) {
  size_t sp = v.find(' ');
  std::string_view quota = v.substr(0, sp);
  bool ok = quota == "max" || (ParseU64(quota) && *ParseU64(quota) > 0);
  if (sp != std::string_view::npos) {
    auto period = ParseU64(v.substr(sp + 1));
    ok = ok && period && *period >= 1000 && *period <= 1000000;
  }
  if (!ok)
    return Err() << "\"" << v
                 << "\" is not a cpu.max value; write \"QUOTA PERIOD\" in microseconds (period "
                    "1000..1000000), e.g. \"50000 100000\" for half a CPU, or \"max\"";
  return {};
}

Result<void> ValidateIoMax(std::string_view line) {
  constexpr std::string_view kHint =
      "; write \"MAJ:MIN KEY=VALUE ...\" with keys rbps, wbps, riops, wiops and values an integer "
      "or max, e.g. \"8:0 rbps=1048576 wiops=100\"";
  size_t sp = line.find(' ');
  std::string_view dev = line.substr(0, sp);
  size_t colon = dev.find(':');
  if (colon == std::string_view::npos || !ParseU64(dev.substr(0, colon)) ||
      !ParseU64(dev.substr(colon + 1)))
    return Err() << "io.max line \"" << line << "\" does not start with MAJ:MIN" << kHint;
  if (sp == std::string_view::npos)
    return Err() << "io.max line \"" << line << "\" sets no limit" << kHint;
  std::string_view rest = line.substr(sp + 1);
  while (true) {
    size_t next = rest.find(' ');
    std::string_view kv = rest.substr(0, next);
    size_t eq = kv.find('=');
    std::string_view k = kv.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    bool key_ok = k == "rbps" || k == "wbps" || k == "riops" || k == "wiops";
    if (!key_ok || (val != "max" && !ParseU64(val)))
      return Err() << "io.max line \"" << line << "\": bad limit \"" << kv << "\"" << kHint;
    if (next == std::string_view::npos) break;
    rest = rest.substr(next + 1);
  }
  return {};
}

Result<void> ValidateTmpfsSize(std::string_view size) {
  std::string_view digits = size;
  if (!size.empty() && std::string_view("kmgKMG%").find(size.back()) != std::string_view::npos)
    digits.remove_suffix(1);
  if (!ParseU64(digits))
    return Err() << "\"" << size
                 << "\" is not a tmpfs size; write bytes, a k/m/g suffix or a percentage of RAM, "
                    "e.g. \"64m\" or \"10%\"";
  return {};
}

Result<void> ValidatePciAddress(std::string_view a) {
  auto hex = [](std::string_view s) {
    for (char c : s)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return !s.empty();
  };
  // The domain has 4 digits, or up to 8 behind a VMD bridge (10000:...).
  size_t colon = a.find(':');
  std::string_view rest = colon == std::string_view::npos ? "" : a.substr(colon + 1);
  bool ok = colon >= 4 && colon <= 8 && hex(a.substr(0, colon)) && rest.size() == 7 &&
            hex(rest.substr(0, 2)) && rest[2] == ':' && hex(rest.substr(3, 2)) && rest[3] <= '1' &&
            rest[5] == '.' && rest[6] >= '0' && rest[6] <= '7';
  if (ok) return {};
  return Err() << "\"" << a
               << "\" is not a PCI address as sysfs writes it (domain:bus:device.function, "
                  "lower-case hex, device 00..1f, function 0..7); write e.g. \"0000:01:00.0\" (see "
                  "lspci -D)";
}

}  // namespace format
}  // namespace initos
