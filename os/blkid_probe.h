// What libblkid finds on a device: every filesystem, RAID, LVM, LUKS, swap
// ... superblock and partition table it knows (the same probes as wipefs),
// and the GPT entries of a whole disk. Used before PID 1 would format the
// state partition, and to identify partitions by PARTUUID and type GUID.
// libblkid is linked statically (libblkid.a needs nothing else).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace os {

struct Signature {
  std::string type;     // blkid TYPE or PTTYPE: "btrfs", "crypto_LUKS", "linux_raid_member", "gpt"
  uint64_t offset = 0;  // byte offset of the magic on the device
  bool partition_table = false;  // PTTYPE rather than a superblock
  bool operator==(const Signature&) const = default;
};

// "btrfs at offset 65600", "a gpt partition table at offset 512".
std::string DescribeSignature(const Signature& s);

// Every signature on the device, including ones with a bad checksum and
// ones at the end (md RAID 0.90/1.0 superblocks): not just the first or an
// unambiguous one. Opens `device` read-only, non-blocking.
Result<std::vector<Signature>> ProbeSignatures(const std::string& device);

struct PartitionEntry {
  int number = 0;     // 1-based partition number (PARTN)
  std::string type;   // GPT type GUID (lowercase), or MBR "0x83"
  std::string uuid;   // GPT partition GUID (lowercase), "" for MBR
  std::string name;   // GPT partition name
  std::string table;  // "gpt", "dos"
};

// The partition table of a whole disk (or disk image file), empty when there
// is none.
Result<std::vector<PartitionEntry>> ReadPartitionEntries(const std::string& disk);

}  // namespace os
}  // namespace initos
