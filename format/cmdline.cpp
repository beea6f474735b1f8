#include "format/cmdline.h"

namespace initos {
inline namespace format {
namespace {

constexpr std::string_view kPrefix = "initos.";
constexpr std::string_view kCmdlineFile = "kernel command line";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// KEY=VALUE for the log line: whoever wrote the command line chose the
// bytes, so only printable ASCII, and a long value is cut.
std::string Shown(std::string_view key, std::string_view value) {
  constexpr size_t kMaxShown = 80;
  std::string out(key);
  out += '=';
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i)
    out += (value[i] >= 0x20 && value[i] < 0x7f) ? value[i] : '?';
  if (value.size() > kMaxShown) out += "...";
  return out;
}

}  // namespace

// Like the kernel's next_arg(): quotes only group (and are dropped), so
// `initos.x="a b"` and `"initos.x=a b"` both give key initos.x, value "a b".
std::vector<KernelParam> ParseKernelCmdline(std::string_view cmdline) {
  std::vector<KernelParam> params;
  size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && IsSpace(cmdline[i])) ++i;
    if (i == cmdline.size()) break;
    std::string token;
    bool in_quote = false;
    bool quoted = false;
    for (; i < cmdline.size() && (in_quote || !IsSpace(cmdline[i])); ++i) {
      if (cmdline[i] == '"') {
        in_quote = !in_quote;
        quoted = true;
      } else {
        token.push_back(cmdline[i]);
      }
    }
    if (token == "--" && !quoted) break;  // the rest is init's argv
    KernelParam p;
    size_t eq = token.find('=');
    p.key = token.substr(0, eq);
    if (eq != std::string::npos) {
      p.value = token.substr(eq + 1);
      p.has_value = true;
    }
    params.push_back(std::move(p));
  }
  return params;
}

std::vector<ConfigProblem> ApplyKernelCmdline(Config& config,
                                              const std::vector<KernelParam>& params) {
  std::vector<ConfigProblem> problems;
  for (const auto& p : params) {
    if (!std::string_view(p.key).starts_with(kPrefix)) continue;
    if (!p.has_value) {
      problems.push_back(ConfigProblem{std::string(kCmdlineFile), 0, p.key,
                                       "missing value; write " + p.key + "=VALUE"});
      continue;
    }
    auto r = ApplyOverride(config, std::string_view(p.key).substr(kPrefix.size()), p.value);
    if (!r.ok())
      problems.push_back(ConfigProblem{std::string(kCmdlineFile), 0, p.key,
                                       r.error().str() + "; ignored " + Shown(p.key, p.value) +
                                           ", the signed config's value stays"});
  }
  return problems;
}

}  // namespace format
}  // namespace initos
