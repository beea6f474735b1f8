// Small child steps of a container jail that touch only the process
// itself: hostname (uts namespace), rlimits, no_new_privs.
#pragma once

#include <map>
#include <string>

#include "base/result.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

Result<void> SetJailHostname(const std::string& hostname);
// Checked before the clone with CheckRlimits, so a bad name never gets here.
Result<void> ApplyRlimits(const std::map<std::string, Rlimit>& rlimits);
Result<void> CheckRlimits(const std::map<std::string, Rlimit>& rlimits);
Result<void> SetNoNewPrivs();

}  // namespace jail
}  // namespace initos
