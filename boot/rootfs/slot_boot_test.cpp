#include "boot/rootfs/slot_boot.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

BootState TwoSlots(SlotState a, SlotState b, Slot primary, uint64_t floor = 0) {
  BootState s;
  s.sequence = 7;
  s.primary = primary;
  s.at(Slot::kA) = a;
  s.at(Slot::kB) = b;
  s.highest_good_version = floor;
  return s;
}

TEST(SlotBoot, FloorIsTheHigherOfConfigAndMarkedGood) {
  BootState s = TwoSlots({1, true, 0}, {2, false, 3}, Slot::kB, 1);
  EXPECT_EQ(SlotVersionFloor(0, s), 1u);
  EXPECT_EQ(SlotVersionFloor(5, s), 5u);
  // A slot on trial does not raise it: the good slot a stays bootable.
  EXPECT_LT(SlotVersionFloor(0, s), s.at(Slot::kB).version);
}

TEST(SlotBoot, FailedTrialFallsBackToTheGoodSlot) {
  BootState s = TwoSlots({1, true, 0}, {2, false, 2}, Slot::kB, 1);
  SlotFallback f = PlanSlotFallback(s, Slot::kB, false);
  EXPECT_EQ(f.marked.at(Slot::kB).tries_left, 0u);
  EXPECT_FALSE(f.marked.at(Slot::kB).good);
  EXPECT_EQ(f.marked.primary, Slot::kA);
  EXPECT_GT(f.marked.sequence, s.sequence);
  ASSERT_TRUE(f.next);
  EXPECT_EQ(f.next->slot, Slot::kA);
  EXPECT_FALSE(f.next->trial);
}

TEST(SlotBoot, FailedGoodSlotFallsBackToATrialSlot) {
  BootState s = TwoSlots({1, true, 0}, {2, false, 2}, Slot::kA, 1);
  SlotFallback f = PlanSlotFallback(s, Slot::kA, false);
  ASSERT_TRUE(f.next);
  EXPECT_EQ(f.next->slot, Slot::kB);
  EXPECT_TRUE(f.next->trial);
  EXPECT_EQ(f.next->next.at(Slot::kB).tries_left, 1u);  // the try is used up
  EXPECT_GT(f.next->next.sequence, f.marked.sequence);
}

TEST(SlotBoot, NoFallbackWhenTheOtherSlotIsNeitherGoodNorOnTrial) {
  BootState s = TwoSlots({1, true, 0}, {0, false, 0}, Slot::kA, 1);
  SlotFallback f = PlanSlotFallback(s, Slot::kA, false);
  EXPECT_FALSE(f.next);
  EXPECT_FALSE(f.marked.at(Slot::kA).good);  // still stored: next boot knows
}

TEST(SlotBoot, FirstBootTriesTheOtherSlotAnyway) {
  SlotFallback f = PlanSlotFallback(BootState{}, Slot::kA, true);
  ASSERT_TRUE(f.next);
  EXPECT_EQ(f.next->slot, Slot::kB);
  EXPECT_NE(f.next->why.find("first boot"), std::string::npos) << f.next->why;
}

TEST(SlotBoot, VerifiedVersionIsRecorded) {
  BootState s;  // first boot: nothing known
  auto n = RecordVerifiedVersion(s, Slot::kA, 4);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->at(Slot::kA).version, 4u);
  EXPECT_GT(n->sequence, s.sequence);
  EXPECT_FALSE(RecordVerifiedVersion(*n, Slot::kA, 4));
  // Slot a was good at version 1 but now holds 3: the mark was for other bytes.
  BootState g = TwoSlots({1, true, 0}, {0, false, 0}, Slot::kA, 1);
  auto changed = RecordVerifiedVersion(g, Slot::kA, 3);
  ASSERT_TRUE(changed);
  EXPECT_FALSE(changed->at(Slot::kA).good);
  EXPECT_EQ(changed->highest_good_version, 1u);
}

}  // namespace
}  // namespace initos

#include "base/testing/test_util.h"
#include "os/boot_state_file.h"

namespace initos {
namespace {

// Jail mode's mark-good: the booted slot becomes good, the floor rises; a
// root without slots or an already good slot changes nothing.
TEST(SlotBoot, MarkBootedSlotGood) {
  testutil::TempDir dir;
  BootState s;
  s.at(Slot::kA) = {1, true, 0};
  s.at(Slot::kB) = {2, false, 1};
  s.primary = Slot::kB;
  s.highest_good_version = 1;
  ASSERT_TRUE(BootStateFile::Open(dir.path(), true)->Store(s).ok());
  MountedRoot root;
  root.state_dir = dir.path();
  EXPECT_FALSE(*MarkBootedSlotGood(root));  // no slot: single image
  root.slot = Slot::kB;
  auto r = MarkBootedSlotGood(root);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(*r);
  BootState after = BootStateFile::Open(dir.path(), false)->Load()->state;
  EXPECT_TRUE(after.at(Slot::kB).good);
  EXPECT_EQ(after.highest_good_version, 2u);
  EXPECT_FALSE(*MarkBootedSlotGood(root));  // already good
}

}  // namespace
}  // namespace initos
