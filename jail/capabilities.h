// Capabilities a jail keeps: everything dropped, then the named ones kept
// (least privilege, like `drop: ALL, add: [NET_BIND_SERVICE]`).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

// "NET_ADMIN" or "CAP_NET_ADMIN" (any case) → capability number; unknown
// names are an error naming the name and how to list valid ones.
Result<int> CapabilityFromName(std::string_view name);
Result<std::vector<int>> CapabilitiesFromNames(const std::vector<std::string>& names);

// Child step: bounding set cut to `keep`, permitted = effective = keep,
// inheritable and ambient empty, securebits locked so setuid/exec cannot
// regain anything (libcap). Call after the uid/gid switch.
Result<void> ApplyCapabilities(const std::vector<int>& keep);

}  // namespace jail
}  // namespace initos
