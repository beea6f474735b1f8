#include "jail/process_steps.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "jail/container_plan.h"

namespace initos {
inline namespace jail {

Result<void> SetJailHostname(const std::string& hostname) {
  if (::sethostname(hostname.data(), hostname.size()) != 0)
    return ErrnoError() << "sethostname " << hostname;
  return {};
}

Result<void> CheckRlimits(const std::map<std::string, Rlimit>& rlimits) {
  for (const auto& [name, lim] : rlimits) {
    if (!RlimitResource(name))
      return Err() << "rlimit " << name << ": unknown; use nofile, nproc, core, memlock, ...";
    if (lim.soft > lim.hard) return Err() << "rlimit " << name << ": soft above hard";
  }
  return {};
}

Result<void> ApplyRlimits(const std::map<std::string, Rlimit>& rlimits) {
  for (const auto& [name, lim] : rlimits) {
    auto res = RlimitResource(name);
    if (!res) return Err() << "rlimit " << name << ": unknown";
    struct rlimit r {};
    r.rlim_cur = lim.soft == UINT64_MAX ? RLIM_INFINITY : lim.soft;
    r.rlim_max = lim.hard == UINT64_MAX ? RLIM_INFINITY : lim.hard;
    if (::setrlimit(static_cast<__rlimit_resource>(*res), &r) != 0)
      return ErrnoError() << "setrlimit " << name;
  }
  return {};
}

Result<void> SetNoNewPrivs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return ErrnoError() << "PR_SET_NO_NEW_PRIVS";
  return {};
}

}  // namespace jail
}  // namespace initos
