// Pure planning of the device-mapper stack that exposes a verified bundle:
//
//   source (partition, or read-only loop of a bundle file)
//     -> "initos-root-base": dm-linear over [data_offset, hash_offset+hash_size)
//     -> "initos-root":      dm-verity, data and hash tree on the base device
//     -> EROFS, mounted read-only
//
// dm-verity has no data offset (the data must start at sector 0 of its data
// device), so the linear device cuts the bundle's header area off. Every
// number comes from the signed manifest and is checked here against the
// device size before anything touches the kernel.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/sys/dm.h"
#include "format/config.h"
#include "format/manifest.h"
#include "format/verity_table.h"

namespace initos {
inline namespace boot {

inline constexpr char kRootBaseDmName[] = "initos-root-base";
inline constexpr char kRootDmName[] = "initos-root";

struct RootMapping {
  DmTarget base;  // linear target on the source device
  // Complete except data_dev/hash_dev, which name the base device once it
  // exists (both the same device: the tree follows the data).
  VerityTableParams verity;
};

// Checks the (signature-verified) manifest against the size of the device
// that holds the bundle and plans the tables. `source_dev` is the path or
// MAJOR:MINOR of that device. Errors name the offending field.
Result<RootMapping> PlanRootMapping(const Manifest& m, uint64_t device_size,
                                    const std::string& source_dev, CorruptionPolicy on_corruption);

}  // namespace boot
}  // namespace initos
