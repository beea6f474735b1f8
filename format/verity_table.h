// The dm-verity target's parameter string, in the format of the kernel's
// Documentation/admin-guide/device-mapper/verity.rst:
//   <version> <dev> <hash_dev> <data_block_size> <hash_block_size>
//   <num_data_blocks> <hash_start_block> <algorithm> <digest> <salt>
//   [<#opt_params> <opt_params>]
// Pure: validates and formats, no syscalls.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/sys/dm.h"
#include "format/config.h"

namespace initos {
inline namespace format {

struct VerityTableParams {
  uint32_t hash_type = 1;  // 1: salt prepended, digests padded (veritysetup default)
  std::string data_dev;    // "/dev/loop0" or "MAJOR:MINOR"
  std::string hash_dev;    // may equal data_dev (hash area after the data)
  uint32_t data_block_size = 4096;
  uint32_t hash_block_size = 4096;
  uint64_t data_blocks = 0;  // number of data blocks covered
  // In hash_block_size units. With a veritysetup superblock at hash offset
  // H this is H / hash_block_size + 1: the tree starts after the superblock.
  uint64_t hash_start_block = 0;
  std::string algorithm = "sha256";
  std::string root_hash_hex;
  std::string salt_hex;  // "" = no salt (written as "-")
  CorruptionPolicy on_corruption = CorruptionPolicy::kEio;
  bool ignore_zero_blocks = false;  // zero data blocks read as zeros unverified
};

// The params string; an error names the bad field.
Result<std::string> VerityTableString(const VerityTableParams& p);

// The whole one-target table: covers data_blocks * data_block_size bytes.
Result<DmTarget> VerityTarget(const VerityTableParams& p);

}  // namespace format
}  // namespace initos
