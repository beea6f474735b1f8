// Command line and environment of reaper mode, parsed the way tini parses
// them (same flags, same environment variables), as a pure function so every
// case is unit-tested without running a reaper.
#pragma once

#include <bitset>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace boot {

struct ReaperOptions {
  enum class Action { kRun, kHelp, kVersion, kLicense };
  Action action = Action::kRun;
  bool subreaper = false;           // -s / TINI_SUBREAPER
  bool kill_process_group = false;  // -g / TINI_KILL_PROCESS_GROUP
  int parent_death_signal = 0;      // -p SIGNAL; 0 = none
  bool warn_on_reap = false;        // -w
  int verbosity = 1;                // tini's default; -v adds, TINI_VERBOSITY sets
  std::bitset<256> remap_to_zero;   // -e CODE (repeatable)
  std::vector<std::string> command;
};

// args: everything after `initos reap` / `tini`. env: the environment (only
// the TINI_* keys matter). Options end at `--` or at the first non-option
// argument, so `reap CMD -x` passes -x to CMD. --version is honoured only as
// the sole argument, like tini. Errors are one line naming the bad argument.
Result<ReaperOptions> ParseReaperOptions(const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env);

// "SIGKILL", "KILL" or a number (1..64) -> signal number.
std::optional<int> ParseSignal(std::string_view name);

// The reaper's exit code for the main child's wait status: its exit code, or
// 128+signal when killed, then 0 when listed in remap_to_zero (tini's -e).
int ReaperExitCode(int wait_status, const std::bitset<256>& remap_to_zero);

// Exit code when the command could not be started (errno of exec): 127 not
// found, 126 not executable, 1 otherwise.
int ExecFailureExitCode(int err);

std::string ReaperUsage(std::string_view name);

}  // namespace boot
}  // namespace initos
