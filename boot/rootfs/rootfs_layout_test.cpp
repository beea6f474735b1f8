#include "boot/rootfs/rootfs_layout.h"

#include <gtest/gtest.h>

#include "format/verity.h"
#include "image/bundle.h"

namespace initos {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// A manifest shaped like `initos image build` writes: header area, data,
// then superblock + tree padded to 4 KiB.
Manifest GoodManifest(uint64_t data_size = 4 * kMiB) {
  Manifest m;
  m.name = "demo";
  m.version = 3;
  m.created = 1700000000;
  m.data_offset = kBundleHeaderAreaSize;
  m.data_size = data_size;
  m.hash_offset = m.data_offset + m.data_size;
  VerityParams p;
  uint64_t tree = VerityTreeSize(data_size, p).value();
  m.hash_size = (tree + 4095) / 4096 * 4096;
  m.salt = std::string(64, 'a');
  m.root_hash = std::string(64, 'b');
  m.uuid = "01234567-89ab-cdef-0123-456789abcdef";
  return m;
}

uint64_t End(const Manifest& m) {
  return m.hash_offset + m.hash_size;
}

TEST(RootfsLayout, PlansLinearAndVerity) {
  Manifest m = GoodManifest();
  ASSERT_TRUE(ValidateManifest(m, {kBundleHeaderAreaSize, End(m)}).ok());
  auto r = PlanRootMapping(m, End(m) + 10 * kMiB, "/dev/vda2", CorruptionPolicy::kRestart);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->base.type, "linear");
  EXPECT_EQ(r->base.start, 0u);
  EXPECT_EQ(r->base.length, (End(m) - kBundleHeaderAreaSize) / 512);
  EXPECT_EQ(r->base.params, "/dev/vda2 128");  // 64 KiB header area = 128 sectors
  EXPECT_EQ(r->verity.data_blocks, 4 * kMiB / 4096);
  // Tree starts one block after the superblock, which follows the data.
  EXPECT_EQ(r->verity.hash_start_block, 4 * kMiB / 4096 + 1);
  EXPECT_EQ(r->verity.root_hash_hex, m.root_hash);
  EXPECT_EQ(r->verity.salt_hex, m.salt);
  EXPECT_EQ(r->verity.on_corruption, CorruptionPolicy::kRestart);

  // The planned verity table renders once the base device is known.
  r->verity.data_dev = r->verity.hash_dev = "253:0";
  auto t = VerityTableString(r->verity);
  ASSERT_TRUE(t.ok()) << t.error().str();
  EXPECT_EQ(*t, "1 253:0 253:0 4096 4096 1024 1025 sha256 " + m.root_hash + " " + m.salt +
                    " 1 restart_on_corruption");
}

TEST(RootfsLayout, DeviceExactlyBundleSized) {
  Manifest m = GoodManifest();
  EXPECT_TRUE(PlanRootMapping(m, End(m), "/dev/loop0", CorruptionPolicy::kEio).ok());
}

TEST(RootfsLayout, RefusesTruncatedDevice) {
  Manifest m = GoodManifest();
  auto r = PlanRootMapping(m, End(m) - 4096, "/dev/vda2", CorruptionPolicy::kEio);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("device has only"), std::string::npos) << r.error().str();
}

TEST(RootfsLayout, RefusesHashBeforeData) {
  Manifest m = GoodManifest();
  uint64_t hash_size = m.hash_size;
  m.hash_offset = kBundleHeaderAreaSize;
  m.data_offset = kBundleHeaderAreaSize + hash_size;
  auto r =
      PlanRootMapping(m, End(m) + m.data_offset + m.data_size, "/dev/vda2", CorruptionPolicy::kEio);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("does not follow"), std::string::npos) << r.error().str();
}

TEST(RootfsLayout, RefusesTooSmallTree) {
  Manifest m = GoodManifest(64 * kMiB);
  m.hash_size = 4096;  // superblock only
  auto r = PlanRootMapping(m, End(m), "/dev/vda2", CorruptionPolicy::kEio);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("smaller than"), std::string::npos) << r.error().str();
}

TEST(RootfsLayout, RefusesDataInHeaderArea) {
  Manifest m = GoodManifest();
  m.data_offset = 4096;
  EXPECT_FALSE(PlanRootMapping(m, End(m), "/dev/vda2", CorruptionPolicy::kEio).ok());
}

TEST(RootfsLayout, RefusesOtherFsType) {
  Manifest m = GoodManifest();
  m.fs_type = "squashfs";
  EXPECT_FALSE(PlanRootMapping(m, End(m), "/dev/vda2", CorruptionPolicy::kEio).ok());
}

TEST(RootfsLayout, RefusesOverflowingRegions) {
  Manifest m = GoodManifest();
  m.hash_offset = UINT64_MAX - 4095;
  EXPECT_FALSE(PlanRootMapping(m, UINT64_MAX, "/dev/vda2", CorruptionPolicy::kEio).ok());
}

}  // namespace
}  // namespace initos
