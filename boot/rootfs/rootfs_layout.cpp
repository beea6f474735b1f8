#include "boot/rootfs/rootfs_layout.h"

#include "format/verity.h"
#include "image/bundle.h"

namespace initos {
inline namespace boot {
namespace {

constexpr uint64_t kSector = 512;

}  // namespace

Result<RootMapping> PlanRootMapping(const Manifest& m, uint64_t device_size,
                                    const std::string& source_dev, CorruptionPolicy on_corruption) {
  // The parser checked this already; re-checking keeps the planner safe on
  // its own (it is the last step before the numbers reach the kernel).
  auto valid = ValidateManifest(m, {kBundleHeaderAreaSize, device_size});
  if (!valid.ok()) return valid.error();
  if (m.fs_type != "erofs")
    return Err() << "manifest fs_type '" << m.fs_type << "' is not erofs (the only one booted)";
  if (m.data_size == 0 || m.data_size % m.data_block_size != 0)
    return Err() << "manifest data_size " << m.data_size << " is not a positive multiple of "
                 << m.data_block_size;
  if (m.data_offset % kSector != 0)
    return Err() << "manifest data_offset " << m.data_offset << " is not sector aligned";
  if (m.hash_offset < m.data_offset + m.data_size)
    return Err() << "manifest hash region at " << m.hash_offset
                 << " does not follow the data region (ends at " << m.data_offset + m.data_size
                 << ")";
  uint64_t rel = m.hash_offset - m.data_offset;
  if (rel % m.hash_block_size != 0)
    return Err() << "manifest hash_offset " << m.hash_offset << " is not a multiple of "
                 << m.hash_block_size << " bytes after data_offset";
  auto params = VerityParamsFromManifest(m);
  if (!params.ok()) return params.error();
  auto tree_size = VerityTreeSize(m.data_size, *params);
  if (!tree_size.ok()) return Wrap(tree_size.error(), "manifest");
  uint64_t tree = *tree_size;
  if (tree > m.hash_size)
    return Err() << "manifest hash_size " << m.hash_size << " is smaller than the " << tree
                 << " bytes the tree for " << m.data_size << " data bytes needs";
  uint64_t end = m.hash_offset + m.hash_size;  // ValidateManifest: no overflow, <= device_size
  if (end > device_size)
    return Err() << "bundle needs " << end << " bytes but the device has " << device_size;

  RootMapping r;
  r.base.start = 0;
  r.base.length = (end - m.data_offset + kSector - 1) / kSector;
  if (m.data_offset + r.base.length * kSector > device_size)
    return Err() << "bundle end " << end << " is not sector aligned at the device end";
  r.base.type = "linear";
  r.base.params = source_dev + " " + std::to_string(m.data_offset / kSector);

  VerityTableParams& v = r.verity;
  v.hash_type = 1;
  v.data_block_size = m.data_block_size;
  v.hash_block_size = m.hash_block_size;
  v.data_blocks = m.data_size / m.data_block_size;
  // The verity superblock sits at hash_offset; the tree starts one block later.
  v.hash_start_block = rel / m.hash_block_size + 1;
  v.algorithm = m.hash_algorithm;
  v.root_hash_hex = m.root_hash;
  v.salt_hex = m.salt;
  v.on_corruption = on_corruption;
  return r;
}

}  // namespace boot
}  // namespace initos
