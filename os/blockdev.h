// Finding the disk that holds the root image or the state partition, by a
// spec from the config: "PARTLABEL=x" (GPT partition name), "LABEL=x"
// (filesystem label), optionally followed by ":/path/in/fs.bundle" for a
// bundle file inside that filesystem, "PARTUUID=guid" (GPT partition
// GUID, read from the parent disk's partition table with libblkid), or
// "SERIAL=x" (a whole disk whose CLASS_BLOCK/NAME/serial is x: the serial a
// VM jail's supervisor gives its virtio-blk disks). Parsing and superblock
// probing are pure; the sysfs and /dev roots are parameters so tests use a
// temp tree.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "os/blkid_probe.h"

namespace initos {
inline namespace os {

struct BlockSpec {
  enum class Kind { kPartLabel, kLabel, kPartUuid, kSerial };
  Kind kind = Kind::kPartLabel;
  std::string value;  // the label, the GUID in lowercase, or the disk serial
  std::string file;   // "" or an absolute path inside the filesystem (LABEL= only)
  // Back to "PARTLABEL=x" / "LABEL=x[:/file]" / "PARTUUID=g" / "SERIAL=x"
  // for messages.
  std::string str() const;
};

Result<BlockSpec> ParseBlockSpec(std::string_view spec);

enum class FsType { kNone, kExt4, kErofs };
std::string_view FsTypeName(FsType t);

struct FsProbe {
  FsType type = FsType::kNone;
  std::string label;  // "" when none
};

// Bytes needed from the start of a device to probe it.
constexpr size_t kProbeSize = 2048;

// Recognises ext4 (magic 0xEF53 at 1024+56, label at 1024+120) and EROFS
// (magic 0xE0F5E1E2 at 1024, volume_name at 1024+64) from the first bytes.
FsProbe ProbeSuperblock(std::string_view head);
// Reads the first kProbeSize bytes of `path` and probes them.
Result<FsProbe> ProbeFilesystem(const std::string& path);

// One entry of /sys/class/block, from its uevent file.
struct BlockDeviceInfo {
  std::string name;      // directory name, e.g. "vda2"
  std::string devname;   // DEVNAME=, the node under /dev
  std::string partname;  // PARTNAME= (GPT partition label), "" if none
  int partn = 0;         // PARTN= (partition number), 0 for a whole disk
  dev_t dev = 0;         // MAJOR:MINOR
};

// Parses a block device's uevent text (KEY=VALUE lines).
BlockDeviceInfo ParseBlockUevent(std::string_view name, std::string_view uevent);

// The serial number of whole disk `name` (CLASS_BLOCK/NAME/serial, as
// virtio-blk and others publish it), trailing whitespace removed; an error
// when the disk publishes none.
Result<std::string> ReadDiskSerial(const std::string& class_block_dir, const std::string& name);

// Every block device under `class_block_dir` (default /sys/class/block).
Result<std::vector<BlockDeviceInfo>> ListBlockDevices(const std::string& class_block_dir);

struct BlockScanRoots {
  std::string class_block_dir = "/sys/class/block";
  std::string dev_dir = "/dev";
};

// The partition table entry of partition `d`, read from its parent disk:
// the parent is the directory CLASS_BLOCK/NAME resolves into (as in sysfs,
// .../block/vda/vda2), its node DEV/DEVNAME. nullopt for a whole disk.
Result<std::optional<PartitionEntry>> PartitionEntryOf(const BlockDeviceInfo& d,
                                                       const BlockScanRoots& roots = {});

// The same for the device node `path` found by FindBlockDevice.
Result<std::optional<PartitionEntry>> PartitionEntryOfPath(const std::string& path,
                                                           const BlockScanRoots& roots = {});

// The /dev path of the one device matching spec (the file part is ignored),
// nullopt when none matches yet, an error when several match (two disks
// with the same label: refusing beats guessing which one boots).
Result<std::optional<std::string>> FindBlockDevice(const BlockSpec& spec,
                                                   const BlockScanRoots& roots = {});

// Re-scans every 50 ms until the device appears (drivers and partition
// scanning take a moment after boot) or timeout_ms passes.
Result<std::string> WaitForBlockDevice(const BlockSpec& spec, int timeout_ms,
                                       const BlockScanRoots& roots = {});

}  // namespace os
}  // namespace initos
