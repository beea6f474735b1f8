#include "jail/restart_policy.h"

#include <sys/wait.h>

#include <algorithm>

#include "base/signals.h"

namespace initos {
inline namespace jail {

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + std::string(SignalName(WTERMSIG(status)));
  return "ended (wait status " + std::to_string(status) + ")";
}

RestartDecision DecideJailRestart(const JailConfig& jail, int status,
                                  const std::vector<double>& recent, double now,
                                  bool stopped_by_admin) {
  RestartDecision d;
  d.reason = DescribeWaitStatus(status);
  if (stopped_by_admin) {
    d.reason += " (stopped)";
    return d;
  }
  bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (jail.restart == RestartPolicy::kNever ||
      (jail.restart == RestartPolicy::kOnFailure && !failed)) {
    d.reason += "; restart = " + std::string(RestartPolicyName(jail.restart)) + ", not restarted";
    return d;
  }
  int in_window = static_cast<int>(std::count_if(
      recent.begin(), recent.end(), [&](double t) { return now - t < jail.restart_window_s; }));
  if (jail.restart_limit >= 0 && in_window >= jail.restart_limit) {
    d.reason += "; restarted " + std::to_string(in_window) + " times within " +
                std::to_string(jail.restart_window_s) +
                " s (restart-limit), left stopped: see `initos jail logs " + jail.name +
                "`, then `initos jail start " + jail.name + "`";
    return d;
  }
  long delay = jail.restart_delay_ms;
  for (int i = 0; i < in_window && delay < jail.restart_max_delay_ms; ++i) delay *= 2;
  d.restart = true;
  d.delay_ms = static_cast<int>(std::min<long>(delay, jail.restart_max_delay_ms));
  d.reason += "; restarting in " + std::to_string(d.delay_ms) + " ms";
  return d;
}

}  // namespace jail
}  // namespace initos
