// Host uid/gid ranges for unprivileged jails: an explicit uid-map is
// checked; otherwise each jail gets the first free block of the pool.
// Pure: the supervisor passes what is in use.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

// Ranges for every unprivileged and VM jail of `config`, index-aligned
// with config.jails (privileged jails get {0,0}; a VM jail's QEMU runs as
// the first id of its range). Errors: overlapping explicit ranges, a range
// containing host id 0, the pool exhausted.
Result<std::vector<IdRange>> AllocateUidRanges(const JailsConfig& config);

}  // namespace jail
}  // namespace initos
