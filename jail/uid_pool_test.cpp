#include "jail/uid_pool.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

JailConfig Jail(const std::string& name, JailKind kind = JailKind::kUnprivileged,
                std::optional<IdRange> map = std::nullopt) {
  JailConfig j;
  j.name = name;
  j.kind = kind;
  j.uid_map = map;
  j.line = 7;
  return j;
}

JailsConfig Pool(uint32_t start, uint32_t blocks, uint32_t size = 65536) {
  JailsConfig c;
  c.uid_pool_start = start;
  c.range_size = size;
  c.uid_pool_size = blocks * size;
  return c;
}

TEST(UidPool, AutomaticJailsTakeConsecutiveBlocksPrivilegedGetNone) {
  JailsConfig c = Pool(100000, 4);
  c.jails = {Jail("a"), Jail("p", JailKind::kPrivileged), Jail("b")};
  auto r = AllocateUidRanges(c);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<IdRange>{{100000, 65536}, {0, 0}, {165536, 65536}}));
}

// A VM jail's QEMU runs as the first id of its own block, never host 0.
TEST(UidPool, VmJailsGetABlockToo) {
  JailsConfig c = Pool(100000, 4);
  c.jails = {Jail("a"), Jail("vm", JailKind::kVm), Jail("p", JailKind::kPrivileged)};
  auto r = AllocateUidRanges(c);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<IdRange>{{100000, 65536}, {165536, 65536}, {0, 0}}));
}

TEST(UidPool, ExplicitRangeKeptAndItsBlockSkipped) {
  JailsConfig c = Pool(100000, 4);
  c.jails = {Jail("a"), Jail("x", JailKind::kUnprivileged, IdRange{170000, 1000}), Jail("b")};
  auto r = AllocateUidRanges(c);
  ASSERT_TRUE(r.ok()) << r.error().str();
  // Block 1 (165536..231071) overlaps x's range: b gets block 2.
  EXPECT_EQ(*r, (std::vector<IdRange>{{100000, 65536}, {170000, 1000}, {231072, 65536}}));
}

TEST(UidPool, ExplicitRangesMustNotOverlap) {
  JailsConfig c = Pool(100000, 4);
  c.jails = {Jail("x", JailKind::kUnprivileged, IdRange{200000, 65536}),
             Jail("y", JailKind::kUnprivileged, IdRange{265535, 10})};
  auto r = AllocateUidRanges(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("jail y"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().str().find("overlaps jail x"), std::string::npos) << r.error().str();
  // Touching but not overlapping is fine.
  c.jails[1].uid_map = IdRange{265536, 10};
  EXPECT_TRUE(AllocateUidRanges(c).ok());
}

TEST(UidPool, NeverHostZero) {
  JailsConfig c = Pool(100000, 4);
  c.jails = {Jail("x", JailKind::kUnprivileged, IdRange{0, 65536})};
  auto r = AllocateUidRanges(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("host uid 0"), std::string::npos) << r.error().str();
  // A pool starting at 0 skips its first block.
  JailsConfig z = Pool(0, 2);
  z.jails = {Jail("a")};
  auto a = AllocateUidRanges(z);
  ASSERT_TRUE(a.ok()) << a.error().str();
  EXPECT_EQ((*a)[0], (IdRange{65536, 65536}));
}

TEST(UidPool, EmptyAndWrappingExplicitRangesRejected) {
  JailsConfig c = Pool(100000, 4);
  c.jails = {Jail("x", JailKind::kUnprivileged, IdRange{5000, 0})};
  EXPECT_FALSE(AllocateUidRanges(c).ok());
  c.jails = {Jail("x", JailKind::kUnprivileged, IdRange{4294967000u, 65536})};
  EXPECT_FALSE(AllocateUidRanges(c).ok());
}

TEST(UidPool, ExhaustedPoolNamesTheKey) {
  JailsConfig c = Pool(100000, 2);
  c.jails = {Jail("a"), Jail("b"), Jail("c")};
  auto r = AllocateUidRanges(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("jail c"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().str().find("jails.uid-pool-size"), std::string::npos) << r.error().str();
  // An explicit range eating the only block exhausts it too.
  JailsConfig one = Pool(100000, 1);
  one.jails = {Jail("x", JailKind::kUnprivileged, IdRange{100000, 10}), Jail("a")};
  EXPECT_FALSE(AllocateUidRanges(one).ok());
}

TEST(UidPool, ExplicitRangeOutsidePoolDoesNotConsumeIt) {
  JailsConfig c = Pool(100000, 1);
  c.jails = {Jail("x", JailKind::kUnprivileged, IdRange{900000, 65536}), Jail("a")};
  auto r = AllocateUidRanges(c);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ((*r)[1], (IdRange{100000, 65536}));
}

}  // namespace
}  // namespace initos
