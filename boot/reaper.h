// Reaper mode: a drop-in for tini as PID 1 of a container or jail.
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace boot {

// args: the arguments after `initos reap` (or after argv[0] when the binary is
// invoked as `tini`). Returns the exit code tini would.
int ReaperMain(const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
