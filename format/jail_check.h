// Validation of [jails] and the [[jail]] entries: every rule that needs more
// than one value (kind against uid-map, network against addresses, names
// across entries, start-after cycles, ...). Pure, no syscalls. Every problem
// is fatal: a jail's keys decide what runs and how confined it is.
//
// Checks on the jail's own names (capability names, seccomp profile
// contents) belong to jail/, which format must not include.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "format/config.h"

namespace initos {
inline namespace format {

// Where each key was written, so a problem points at its line. Filled by
// ParseConfig; empty for configs built in code (problems then carry the
// entry's JailConfig::line).
struct JailSourceLines {
  std::map<std::string, int> section;  // [jails] key → line
  // One map per [[jail]] entry, key → line; "mounts.N" is the N-th mount (1-based).
  std::vector<std::map<std::string, int>> entries;
};

// "jail.NAME" for messages, or "jail[N]" (1-based) when the name is unusable.
std::string JailProblemKey(const JailConfig& jail, size_t index);

// One [[jail]] entry against itself and the rest of the config (state.device).
std::vector<ConfigProblem> CheckJail(const JailConfig& jail, size_t index, const Config& config,
                                     std::string_view file,
                                     const std::map<std::string, int>& lines = {});

// The [jails] section, every entry (CheckJail) and the rules across entries:
// unique names, start-after naming another existing jail without cycles,
// explicit uid/gid maps not overlapping. Called by ParseConfig.
std::vector<ConfigProblem> CheckJails(const Config& config, std::string_view file,
                                      const JailSourceLines& lines = {});

}  // namespace format
}  // namespace initos
