// Preparing the ext4 state partition before it is mounted: a partition with
// a filesystem is mounted as it is; an all-zero partition is formatted when
// [state] create = true; anything else is refused. Formatting destroys data,
// so it only ever happens to bytes that are provably empty: any non-zero
// byte in the probed area, recognised signature or not, means "not ours to
// format" (docs/boot-verification.md, "State partition").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {

// Bytes probed from the start of the state device: the ext4 superblock
// (1024..2047) and the places of every signature StateSignature knows.
inline constexpr size_t kStateProbeSize = 64 * 1024;

// The filesystem label mkfs gives a created state partition.
inline constexpr char kStateLabel[] = "initos-state";

// What a recognisable non-ext4 start of a device is ("erofs", "LUKS", ...),
// "" when none is recognised. ext4 is reported as "ext4".
std::string StateSignature(std::string_view head);

struct StateAction {
  enum class Kind { kMount, kFormat, kRefuse };
  Kind kind = Kind::kRefuse;
  std::string reason;  // for kRefuse: what is there and what to do, one phrase
};

// Pure: from the first kStateProbeSize bytes of the device (fewer if the
// device is smaller) and [state] create.
StateAction DecideStateAction(std::string_view head, bool create);

// mkfs candidates searched in the initramfs, first existing wins.
std::vector<std::string> DefaultMkfsPaths();

struct StatePrepareOptions {
  std::string spec;  // state.device as configured, for messages
  bool create = false;
  std::vector<std::string> mkfs_paths = DefaultMkfsPaths();
};

// Probes `device` and, if the decision says so, runs mkfs on it. Returns
// true when it created the filesystem. Errors are one line naming the
// device and the fix.
Result<bool> PrepareStatePartition(const std::string& device, const StatePrepareOptions& opts);

}  // namespace initos
