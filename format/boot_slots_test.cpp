#include "format/boot_slots.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

BootState Installed() {
  BootState s;
  s.sequence = 1;
  s.primary = Slot::kA;
  s.at(Slot::kA) = {1, true, 0};
  s.highest_good_version = 1;
  return s;
}

TEST(BootSlotsTest, EncodeDecodeRoundTrips) {
  BootState s = Installed();
  s.at(Slot::kB) = {2, false, 3};
  std::string copy = EncodeBootState(s);
  ASSERT_EQ(copy.size(), kBootStateCopySize);
  auto d = DecodeBootState(copy);
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(*d, s);
}

TEST(BootSlotsTest, EveryFlippedByteIsRefused) {
  std::string copy = EncodeBootState(Installed());
  for (size_t i = 0; i < copy.size(); ++i) {
    std::string bad = copy;
    bad[i] ^= 0x01;
    EXPECT_FALSE(DecodeBootState(bad).ok()) << "byte " << i;
  }
  EXPECT_FALSE(DecodeBootState(copy.substr(0, 100)).ok());
  EXPECT_FALSE(DecodeBootState(std::string(kBootStateCopySize, '\0')).ok());
}

TEST(BootSlotsTest, NewerValidCopyWinsAndATornCopyIsSkippedWithAReason) {
  BootState older = Installed();
  BootState newer = *MarkNext(older, Slot::kB, 2, 3);
  std::string o = EncodeBootState(older), n = EncodeBootState(newer);
  auto l = PickBootState(o, n);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->state, newer);
  EXPECT_EQ(l->copy, 1);
  EXPECT_EQ(NextCopy(*l), 0);
  EXPECT_EQ(l->note, "");
  // Power cut while writing the newer copy: half of it is old bytes.
  std::string torn = n.substr(0, 200) + std::string(n.size() - 200, 'x');
  l = PickBootState(o, torn);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->state, older);
  EXPECT_EQ(l->copy, 0);
  EXPECT_NE(l->note.find("copy 2 is torn or overwritten"), std::string::npos);
  torn = n;
  torn[300] = 'x';
  l = PickBootState(torn, o);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->copy, 1);
  EXPECT_NE(l->note.find("copy 1 is torn or overwritten"), std::string::npos) << l->note;
  auto none = PickBootState("", torn);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().str().find("copy 1 is 0 bytes"), std::string::npos);
}

TEST(BootSlotsTest, AGoodPrimaryBootsWithoutAWrite) {
  BootDecision d = ChooseBootSlot(Installed());
  EXPECT_EQ(d.slot, Slot::kA);
  EXPECT_FALSE(d.trial);
  EXPECT_FALSE(d.changed);
}

TEST(BootSlotsTest, ANewSlotIsTriedItsTriesThenTheGoodOneIsUsedAgain) {
  BootState s = *MarkNext(Installed(), Slot::kB, 2, 2);
  EXPECT_EQ(s.highest_good_version, 1u);  // the floor does not rise on write
  BootDecision d1 = ChooseBootSlot(s);
  EXPECT_EQ(d1.slot, Slot::kB);
  EXPECT_TRUE(d1.trial);
  EXPECT_EQ(d1.next.at(Slot::kB).tries_left, 1u);
  EXPECT_GT(d1.next.sequence, s.sequence);
  BootDecision d2 = ChooseBootSlot(d1.next);
  EXPECT_EQ(d2.slot, Slot::kB);
  EXPECT_EQ(d2.next.at(Slot::kB).tries_left, 0u);
  BootDecision d3 = ChooseBootSlot(d2.next);
  EXPECT_EQ(d3.slot, Slot::kA);
  EXPECT_FALSE(d3.trial);
  EXPECT_EQ(d3.next.primary, Slot::kA);
  EXPECT_NE(d3.why.find("never reported healthy"), std::string::npos) << d3.why;
  // And it stays there.
  EXPECT_EQ(ChooseBootSlot(d3.next).slot, Slot::kA);
  EXPECT_FALSE(ChooseBootSlot(d3.next).changed);
}

TEST(BootSlotsTest, MarkGoodEndsTheTrialAndRaisesTheFloor) {
  BootState s = ChooseBootSlot(*MarkNext(Installed(), Slot::kB, 2, 3)).next;
  auto g = MarkGood(s, Slot::kB);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->at(Slot::kB).good);
  EXPECT_EQ(g->highest_good_version, 2u);
  BootDecision d = ChooseBootSlot(*g);
  EXPECT_EQ(d.slot, Slot::kB);
  EXPECT_FALSE(d.trial);
  // Slot a (version 1) is now below the floor: no rollback to it.
  EXPECT_FALSE(Rollback(*g, Slot::kB).ok());
}

TEST(BootSlotsTest, MarkBadAndRollbackDuringATrialGoBackToTheGoodSlot) {
  BootState s = ChooseBootSlot(*MarkNext(Installed(), Slot::kB, 2, 3)).next;
  auto bad = MarkBad(s, Slot::kB);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(ChooseBootSlot(*bad).slot, Slot::kA);
  auto back = Rollback(s, Slot::kB);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->primary, Slot::kA);
  EXPECT_EQ(ChooseBootSlot(*back).slot, Slot::kA);
}

TEST(BootSlotsTest, NothingHealthyStillBootsThePrimary) {
  BootState s;
  s.at(Slot::kA) = {1, false, 0};
  s.at(Slot::kB) = {2, false, 0};
  BootDecision d = ChooseBootSlot(s);
  EXPECT_EQ(d.slot, Slot::kA);
  EXPECT_NE(d.why.find("still verified"), std::string::npos);
  // The other slot's tries are used before giving up.
  s.at(Slot::kB).tries_left = 1;
  d = ChooseBootSlot(s);
  EXPECT_EQ(d.slot, Slot::kB);
  EXPECT_TRUE(d.trial);
}

TEST(BootSlotsTest, BadArgumentsAreRefused) {
  EXPECT_FALSE(MarkNext(Installed(), Slot::kB, 2, 0).ok());
  EXPECT_FALSE(MarkNext(Installed(), Slot::kB, 0, 3).ok());
  EXPECT_FALSE(MarkGood(Installed(), Slot::kB).ok());  // empty slot
  EXPECT_EQ(ParseSlotName("b"), Slot::kB);
  EXPECT_FALSE(ParseSlotName("c").has_value());
}

TEST(BootSlotsTest, DescribeNamesEachSlot) {
  BootState s = *MarkNext(Installed(), Slot::kB, 2, 3);
  EXPECT_EQ(DescribeBootState(s, Slot::kA),
            "slot a: version 1, good, booted\nslot b: version 2, not good, 3 tries left, "
            "primary\nfloor: 1\n");
}

}  // namespace
}  // namespace initos
