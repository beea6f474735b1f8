// Preparing the ext4 state partition before it is mounted: a partition with
// a filesystem is mounted as it is; an empty partition is formatted when
// [state] create = true; anything else is refused. Formatting destroys data,
// so it only ever happens when libblkid finds no superblock or partition
// table anywhere on the device (every filesystem, RAID incl. md superblocks
// at the end, LVM, LUKS, ...) AND the first 64 KiB are all zeros: any
// non-zero byte there, recognised signature or not, means "not ours to
// format" (docs/boot-verification.md, "State partition").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "os/blkid_probe.h"

namespace initos {
inline namespace boot {

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

// Pure: from what libblkid found on the whole device, the first
// kStateProbeSize bytes of the device (fewer if the device is smaller) and
// [state] create. Only an ext2/3/4 superblock alone is mounted; any other
// signature is refused and named ("btrfs at offset 65600").
StateAction DecideStateAction(const std::vector<Signature>& found, std::string_view head,
                              bool create);
// The same without libblkid's findings (only the head's own checks).
StateAction DecideStateAction(std::string_view head, bool create);

// Pure: state.partition-type (a GPT type GUID, any case; "" = not checked)
// against the partition's table entry (nullopt: not a partition). One phrase
// saying what is wrong and how to fix it, or "" when it matches.
std::string PartitionTypeProblem(const std::optional<PartitionEntry>& entry,
                                 const std::string& want);

// mkfs candidates searched in the initramfs, first existing wins.
std::vector<std::string> DefaultMkfsPaths();

struct StatePrepareOptions {
  std::string spec;  // state.device as configured, for messages
  bool create = false;
  std::vector<std::string> mkfs_paths = DefaultMkfsPaths();
};

// Probes `device` (libblkid over the whole device, plus the first 64 KiB)
// and, if the decision says so, runs mkfs -E nodiscard on it. Returns
// true when it created the filesystem. Errors are one line naming the
// device and the fix.
Result<bool> PrepareStatePartition(const std::string& device, const StatePrepareOptions& opts);

}  // namespace boot
}  // namespace initos
