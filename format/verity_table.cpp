#include "format/verity_table.h"

#include <cctype>
#include <vector>

namespace initos {
inline namespace format {
namespace {

bool IsHex(const std::string& s) {
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// dm-verity accepts power-of-two block sizes from 512 bytes up to the page size.
bool GoodBlockSize(uint32_t n) {
  return n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

// Device fields are split on spaces by the kernel: no spaces, not empty.
bool GoodDevice(const std::string& d) {
  if (d.empty()) return false;
  for (char c : d)
    if (std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

Result<std::string> VerityTableString(const VerityTableParams& p) {
  if (p.hash_type > 1) return Err() << "verity hash type " << p.hash_type << " must be 0 or 1";
  if (!GoodDevice(p.data_dev)) return Err() << "verity data device '" << p.data_dev << "' is bad";
  if (!GoodDevice(p.hash_dev)) return Err() << "verity hash device '" << p.hash_dev << "' is bad";
  if (!GoodBlockSize(p.data_block_size))
    return Err() << "verity data block size " << p.data_block_size
                 << " must be a power of two from 512 to 65536";
  if (!GoodBlockSize(p.hash_block_size))
    return Err() << "verity hash block size " << p.hash_block_size
                 << " must be a power of two from 512 to 65536";
  if (p.data_blocks == 0) return Err() << "verity data block count is 0";
  if (p.algorithm.empty() || !GoodDevice(p.algorithm))
    return Err() << "verity hash algorithm '" << p.algorithm << "' is bad";
  if (p.root_hash_hex.empty() || p.root_hash_hex.size() % 2 != 0 || !IsHex(p.root_hash_hex))
    return Err() << "verity root hash '" << p.root_hash_hex << "' is not an even-length hex string";
  if (p.salt_hex.size() % 2 != 0 || !IsHex(p.salt_hex))
    return Err() << "verity salt '" << p.salt_hex << "' is not an even-length hex string";

  std::vector<std::string> opts;
  switch (p.on_corruption) {
    case CorruptionPolicy::kEio:
      break;  // the kernel's default: the read fails with EIO
    case CorruptionPolicy::kRestart:
      opts.push_back("restart_on_corruption");
      break;
    case CorruptionPolicy::kPanic:
      opts.push_back("panic_on_corruption");
      break;
  }
  if (p.ignore_zero_blocks) opts.push_back("ignore_zero_blocks");

  std::string s = std::to_string(p.hash_type) + " " + p.data_dev + " " + p.hash_dev + " " +
                  std::to_string(p.data_block_size) + " " + std::to_string(p.hash_block_size) +
                  " " + std::to_string(p.data_blocks) + " " + std::to_string(p.hash_start_block) +
                  " " + p.algorithm + " " + p.root_hash_hex + " " +
                  (p.salt_hex.empty() ? "-" : p.salt_hex);
  if (!opts.empty()) {
    s += " " + std::to_string(opts.size());
    for (const auto& o : opts) s += " " + o;
  }
  return s;
}

Result<DmTarget> VerityTarget(const VerityTableParams& p) {
  auto params = VerityTableString(p);
  if (!params.ok()) return params.error();
  uint64_t bytes = p.data_blocks * p.data_block_size;
  if (bytes / p.data_block_size != p.data_blocks)
    return Err() << "verity data size overflows: " << p.data_blocks << " blocks";
  return DmTarget{0, bytes / 512, "verity", *params};
}

}  // namespace format
}  // namespace initos
