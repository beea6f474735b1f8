// The bundle manifest: a small, strictly parsed `key=value` text that the
// signature covers. It names the image and pins the dm-verity root hash, which
// in turn covers every data and hash-tree block. Pure: no syscalls, so the
// parser can be fuzzed and unit-tested on strings. Format: docs/bundle-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

inline constexpr uint32_t kManifestFormatVersion = 1;
inline constexpr size_t kManifestMaxSize = 60 * 1024;
// Every offset and size in the manifest is a multiple of this.
inline constexpr uint64_t kManifestAlign = 4096;

struct Manifest {
  uint32_t format = kManifestFormatVersion;
  std::string name;
  uint64_t version = 0;  // monotonic; a device refuses older versions
  uint64_t created = 0;  // unix seconds
  std::string fs_type = "erofs";
  uint64_t data_offset = 0;
  uint64_t data_size = 0;
  uint64_t hash_offset = 0;  // the verity superblock (veritysetup --hash-offset)
  uint64_t hash_size = 0;    // superblock + tree, padded to kManifestAlign
  std::string hash_algorithm = "sha256";
  uint32_t data_block_size = 4096;
  uint32_t hash_block_size = 4096;
  std::string salt;       // lowercase hex, may be empty
  std::string root_hash;  // lowercase hex, digest size of hash_algorithm
  std::string uuid;       // 8-4-4-4-12 lowercase hex

  bool operator==(const Manifest&) const = default;
};

// Where the manifest's regions may lie: [reserved_end, device_size).
struct ManifestLimits {
  uint64_t reserved_end = 0;  // bytes before this belong to the header area
  uint64_t device_size = UINT64_MAX;
};

// Strict: fixed key set, each key exactly once, "key=value\n" lines, no blank
// lines, no spaces, no CR; numbers are plain decimal without leading zeros.
Result<Manifest> ParseManifest(std::string_view text, const ManifestLimits& limits = {});

// Checks values and layout (also used by the builder before signing).
Result<void> ValidateManifest(const Manifest& m, const ManifestLimits& limits = {});

// Canonical form: fixed key order, one line each; byte-stable.
std::string SerializeManifest(const Manifest& m);

// Digest length in bytes for a hash algorithm the manifest accepts; any
// other name is an error naming the accepted ones.
Result<size_t> HashAlgorithmDigestSize(std::string_view algorithm);

}  // namespace format
}  // namespace initos
