// When a jail that ended is started again: restart = never | on-failure |
// always, with exponential backoff (restart-delay-ms doubled per recent
// restart up to restart-max-delay-ms) and a limit of restart-limit restarts
// within restart-window-s, after which it stays down. Pure.
#pragma once

#include <string>
#include <vector>

#include "format/jail_config.h"

namespace initos {
inline namespace jail {

struct RestartDecision {
  bool restart = false;
  int delay_ms = 0;
  std::string reason;  // logged: "exited with status 3", "... restart limit reached"
};

// wait_status as from waitpid; recent: monotonic seconds of earlier
// restarts; stopped_by_admin: `initos jail stop` or shutdown (never restarted).
RestartDecision DecideJailRestart(const JailConfig& jail, int wait_status,
                                  const std::vector<double>& recent, double now,
                                  bool stopped_by_admin);

// "exited with status 3", "killed by SIGKILL".
std::string DescribeWaitStatus(int wait_status);

}  // namespace jail
}  // namespace initos
