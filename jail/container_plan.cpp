#include "jail/container_plan.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>

namespace initos {
inline namespace jail {

uint64_t ContainerCloneFlags(const JailConfig& config) {
  uint64_t f =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (config.kind == JailKind::kUnprivileged) f |= CLONE_NEWUSER;
  return f;
}

std::vector<std::string> ContainerEnv(const JailConfig& config,
                                      const std::vector<std::string>& extra) {
  std::map<std::string, std::string> env = config.env;
  env["container"] = "initos";
  if (!env.count("PATH")) env["PATH"] = kDefaultJailPath;
  for (const auto& kv : extra) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<std::string> ContainerArgv(const JailConfig& config) {
  std::vector<std::string> chain = JailChainArgv(config);
  if (!config.reaper) return chain;
  std::vector<std::string> argv = {"initos", "reap", "--"};
  argv.insert(argv.end(), chain.begin(), chain.end());
  return argv;
}

std::optional<int> RlimitResource(const std::string& name) {
  static const std::map<std::string, int> kNames = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK}};
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n.starts_with("rlimit_")) n = n.substr(7);
  auto it = kNames.find(n);
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

}  // namespace jail
}  // namespace initos
