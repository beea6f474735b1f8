#include "cli/kmsg_record.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(KmsgRecord, ParsesARecord) {
  auto r = ParseKmsgRecord("14,1234,4630123,-;initos: stage rootfs done t=4.630000\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->priority, 14);
  EXPECT_EQ(r->seq, 1234u);
  EXPECT_EQ(r->usec, 4630123u);
  EXPECT_EQ(r->message, "initos: stage rootfs done t=4.630000");
  EXPECT_EQ(FormatKmsgLine(*r), "[    4.630123] initos: stage rootfs done t=4.630000");
}

TEST(KmsgRecord, ExtraFieldsAndContinuationLines) {
  auto r = ParseKmsgRecord(
      "6,339,5140900,-,caller=T1;virtio_blk virtio2: [vda] 2048 sectors\n"
      " SUBSYSTEM=virtio\n DEVICE=+virtio:virtio2\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->usec, 5140900u);
  EXPECT_EQ(r->message, "virtio_blk virtio2: [vda] 2048 sectors");
  auto n = ParseKmsgRecord("6,1,2;no flags\n");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->usec, 2u);
  EXPECT_EQ(n->message, "no flags");
}

TEST(KmsgRecord, RejectsMalformedRecords) {
  EXPECT_FALSE(ParseKmsgRecord(""));
  EXPECT_FALSE(ParseKmsgRecord("no semicolon at all\n"));
  EXPECT_FALSE(ParseKmsgRecord("6,1;too few fields\n"));
  EXPECT_FALSE(ParseKmsgRecord("x,1,2,-;letters\n"));
  EXPECT_FALSE(ParseKmsgRecord(",1,2,-;empty priority\n"));
  EXPECT_FALSE(ParseKmsgRecord("6,1,99999999999999999999999,-;too long\n"));
}

TEST(KmsgRecord, SplitsRecordsWithTheirContinuations) {
  auto recs = SplitKmsgRecords("6,1,10,-;a\n SUBSYSTEM=x\n6,2,20,-;b\n6,3,30,-;c");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0], "6,1,10,-;a\n SUBSYSTEM=x\n");
  EXPECT_EQ(recs[2], "6,3,30,-;c");
  EXPECT_EQ(ParseKmsgRecord(recs[0])->message, "a");
}

TEST(KmsgRecord, InitosTag) {
  EXPECT_TRUE(IsInitosMessage("initos: stage early done t=0.1"));
  EXPECT_TRUE(IsInitosMessage("initos-sidecar: sshd started (pid 9)"));
  EXPECT_FALSE(IsInitosMessage("initosX: other"));
  EXPECT_FALSE(IsInitosMessage("systemd[1]: initos: quoted"));
  EXPECT_FALSE(IsInitosMessage("initos"));
}

}  // namespace
}  // namespace initos
