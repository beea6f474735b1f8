#include "format/verity_table.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

VerityTableParams Base() {
  VerityTableParams p;
  p.data_dev = "/dev/loop0";
  p.hash_dev = "/dev/loop1";
  p.data_blocks = 256;
  p.hash_start_block = 1;
  p.root_hash_hex = "4392712ba01368efdf14b05c76f9e4df0d53664630b5d48632ed17a137f39076";
  p.salt_hex = "1234000000000000000000000000000000000000000000000000000000000000";
  return p;
}

TEST(VerityTableTest, DefaultEioHasNoOptionalParams) {
  auto s = VerityTableString(Base());
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(*s,
            "1 /dev/loop0 /dev/loop1 4096 4096 256 1 sha256 "
            "4392712ba01368efdf14b05c76f9e4df0d53664630b5d48632ed17a137f39076 "
            "1234000000000000000000000000000000000000000000000000000000000000");
}

TEST(VerityTableTest, PoliciesBecomeCountedOptionalParams) {
  auto p = Base();
  p.on_corruption = CorruptionPolicy::kRestart;
  auto s = VerityTableString(p);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->ends_with(" 1 restart_on_corruption")) << *s;
  p.on_corruption = CorruptionPolicy::kPanic;
  p.ignore_zero_blocks = true;
  s = VerityTableString(p);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->ends_with(" 2 panic_on_corruption ignore_zero_blocks")) << *s;
}

TEST(VerityTableTest, EmptySaltIsDashAndDevNumbersAllowed) {
  auto p = Base();
  p.salt_hex = "";
  p.data_dev = "7:0";
  p.hash_dev = "7:0";
  p.hash_start_block = 257;
  auto s = VerityTableString(p);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "1 7:0 7:0 4096 4096 256 257 sha256 " + p.root_hash_hex + " -");
}

TEST(VerityTableTest, RejectsBadFields) {
  auto p = Base();
  p.root_hash_hex = "xyz";
  auto s = VerityTableString(p);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("root hash"), std::string::npos);

  p = Base();
  p.data_block_size = 3000;
  EXPECT_FALSE(VerityTableString(p).ok());
  p = Base();
  p.data_blocks = 0;
  EXPECT_FALSE(VerityTableString(p).ok());
  p = Base();
  p.data_dev = "/dev/a b";
  EXPECT_FALSE(VerityTableString(p).ok());
  p = Base();
  p.salt_hex = "abc";
  EXPECT_FALSE(VerityTableString(p).ok());
}

TEST(VerityTableTest, TargetCoversDataInSectors) {
  auto t = VerityTarget(Base());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, "verity");
  EXPECT_EQ(t->start, 0u);
  EXPECT_EQ(t->length, 256u * 4096 / 512);
}

}  // namespace
}  // namespace initos
