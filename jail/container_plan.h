// The pure decisions of StartContainer (jail/container.h), unit-tested:
// which namespaces, the environment, the argv with or without the reaper,
// and the rlimit names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "format/jail_config.h"

namespace initos {
inline namespace jail {

// Every container jail gets new mount, pid, uts, ipc, net and cgroup
// namespaces; unprivileged ones also a user namespace. network = "none"
// is a new, empty network namespace for both kinds (never the host's).
uint64_t ContainerCloneFlags(const JailConfig& config);

inline constexpr const char* kDefaultJailPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// config.env, then container=initos (systemd's container interface) and a
// default PATH unless set, then `extra` ("K=V", overriding by key). Sorted.
std::vector<std::string> ContainerEnv(const JailConfig& config,
                                      const std::vector<std::string>& extra);

// The argv exec'd as the jail's PID 1: `initos reap -- CHAIN...` with the
// reaper, else the chain itself (helpers then command).
std::vector<std::string> ContainerArgv(const JailConfig& config);

// "nofile" -> RLIMIT_NOFILE (any case, "RLIMIT_" optional); nullopt if unknown.
std::optional<int> RlimitResource(const std::string& name);

}  // namespace jail
}  // namespace initos
