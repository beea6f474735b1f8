// dm-verity hash tree, in the on-disk format of `veritysetup format`
// (hash type 1, superblock first, then the levels top-down), built and
// checked with OpenSSL's digests. See docs/bundle-format.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

struct VerityParams {
  std::string algorithm = "sha256";
  uint32_t data_block_size = 4096;
  uint32_t hash_block_size = 4096;
  std::vector<uint8_t> salt;       // veritysetup default: 32 random bytes
  std::array<uint8_t, 16> uuid{};  // stored in the superblock
  // Threads hashing the data (the tree is the same for any value).
  // 0 = one per CPU, at most 8.
  unsigned threads = 0;
};

struct VerityTree {
  std::vector<uint8_t> root_hash;
  uint64_t data_blocks = 0;
  uint64_t hash_size = 0;  // bytes written for the tree, superblock included
};

// Progress: done, total (in blocks). May be empty.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Hashes data_size bytes (a multiple of data_block_size) from data_fd at
// data_offset and writes superblock + tree to hash_fd at hash_offset (the
// offset that `veritysetup --hash-offset` takes).
Result<VerityTree> BuildVerityTree(int data_fd, uint64_t data_offset, uint64_t data_size,
                                   int hash_fd, uint64_t hash_offset, const VerityParams& params,
                                   const ProgressFn& progress = {});

// Re-reads everything and checks every hash block against expected_root.
// The error names the first bad block (data or hash) found, checking top-down:
// "bad verity superblock: ...", "root hash mismatch", "hash block at offset X
// (level L)" (X absolute in hash_fd; level 0 = the hashes of the data blocks),
// "data block N". A zero params.uuid skips the superblock's uuid check.
Result<void> VerifyVerityTree(int data_fd, uint64_t data_offset, uint64_t data_size, int hash_fd,
                              uint64_t hash_offset, const VerityParams& params,
                              const std::vector<uint8_t>& expected_root,
                              const ProgressFn& progress = {});

// Size of the tree (with superblock) that BuildVerityTree writes for a
// hash_offset that is a multiple of hash_block_size. Invalid input (an
// unknown digest, data_size not whole blocks or 0) is an error, never a
// size of 0 that a "tree fits" check would wave through.
Result<uint64_t> VerityTreeSize(uint64_t data_size, const VerityParams& params);

std::string HexEncode(const std::vector<uint8_t>& bytes);
Result<std::vector<uint8_t>> HexDecode(const std::string& hex);

}  // namespace format
}  // namespace initos
