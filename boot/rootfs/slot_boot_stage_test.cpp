// PID 1's A/B slot step without root, as rootfs_stage_test.cpp does it: a
// fake /sys/class/block whose partitions are regular files holding real
// bundles, and the state partition a plain directory. Verification passes
// up to device-mapper, the first step that needs the kernel, so a good slot
// "fails" there; the record shows every decision PID 1 stored.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "boot/jails/jail_mode.h"
#include "boot/rootfs/slot_boot.h"
#include "format/signing.h"
#include "image/bundle.h"
#include "os/boot_state_file.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

class SlotBootStage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new TempDir();
    std::string d = shared_->path();
    ASSERT_TRUE(MakeDirs(d + "/tree/bin").ok());
    ASSERT_TRUE(WriteStringToFile(d + "/tree/bin/hello", "#!/bin/sh\necho hi\n", 0755).ok());
    auto pair = GenerateKeyPair(KeyType::kEd25519);
    ASSERT_TRUE(pair.ok());
    ASSERT_TRUE(WriteStringToFile(d + "/a.key", pair->private_pem, 0600).ok());
    ASSERT_TRUE(WriteStringToFile(d + "/a.pub", pair->public_pem).ok());
    auto key = LoadPrivateKey(d + "/a.key");
    ASSERT_TRUE(key.ok());
    BundleBuildOptions o;
    o.rootfs = d + "/tree";
    o.output = d + "/v3.bundle";
    o.name = "testos";
    o.version = 3;
    o.created = 1700000000;
    o.salt = std::vector<uint8_t>(32, 7);
    o.temp_dir = d;
    ASSERT_TRUE(BuildBundle(o, *key).ok());
  }
  static void TearDownTestSuite() { delete shared_; }

  void SetUp() override {
    std::string d = dir_.path();
    env_.dev_dir = d + "/dev";
    env_.class_block_dir = d + "/sys/class/block";
    env_.sys_root = d + "/sys";
    env_.run_dir = d + "/run/initos";
    env_.target = d + "/sysroot";
    env_.device_timeout_ms = 100;
    state_ = d + "/state";
    ASSERT_TRUE(MakeDirs(env_.dev_dir).ok());
    ASSERT_TRUE(MakeDirs(state_).ok());
    for (auto [dev, label, minor] : {std::tuple{"vda2", "os-a", 2}, {"vda3", "os-b", 3}}) {
      ASSERT_TRUE(MakeDirs(env_.class_block_dir + "/" + dev).ok());
      ASSERT_TRUE(WriteStringToFile(env_.class_block_dir + "/" + dev + "/uevent",
                                    "MAJOR=254\nMINOR=" + std::to_string(minor) +
                                        "\nDEVNAME=" + dev + "\nDEVTYPE=partition\nPARTN=" +
                                        std::to_string(minor) + "\nPARTNAME=" + label + "\n")
                      .ok());
      fs::copy_file(shared_->path() + "/v3.bundle", env_.dev_dir + "/" + dev);
    }
    config_.rootfs.slots = {"PARTLABEL=os-a", "PARTLABEL=os-b"};
    config_.rootfs.name = "testos";
    config_.rootfs.keys = {shared_->path() + "/a.pub"};
    config_.state.device = "PARTLABEL=state";
  }

  void Store(const BootState& s) {
    auto f = BootStateFile::Open(state_, true);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->Store(s).ok());
  }
  BootState Record() {
    auto l = BootStateFile::Open(state_, false)->Load();
    EXPECT_TRUE(l.ok()) << l.error().str();
    return l.ok() ? l->state : BootState{};
  }
  std::string Run() {
    auto r = MountSlotRootOn(config_, env_, state_);
    EXPECT_FALSE(r.ok());  // no device-mapper in the fake /sys
    return r.ok() ? "" : r.error().str();
  }
  void Garble(const char* dev) {
    ASSERT_TRUE(WriteStringToFile(env_.dev_dir + "/" + dev, std::string(1 << 20, 'x')).ok());
  }

  static TempDir* shared_;
  TempDir dir_;
  BootEnv env_;
  Config config_;
  std::string state_;
};
TempDir* SlotBootStage::shared_ = nullptr;

TEST_F(SlotBootStage, FirstBootWritesARecordAndTriesSlotA) {
  std::string e = Run();
  // Slot a verified (up to dm), failed at dm, then slot b the same way.
  EXPECT_NE(e.find("rootfs: slot a failed and slot b failed too"), std::string::npos) << e;
  EXPECT_NE(e.find("device-mapper"), std::string::npos) << e;
  BootState r = Record();
  EXPECT_EQ(r.at(Slot::kA).tries_left, 0u);
  EXPECT_FALSE(r.at(Slot::kA).good);
}

TEST_F(SlotBootStage, ATrialSlotThatDoesNotVerifyFallsBackInTheSameBoot) {
  BootState s;
  s.at(Slot::kA) = {3, true, 0};
  s.at(Slot::kB) = {4, false, 3};
  s.primary = Slot::kB;
  s.highest_good_version = 3;
  Store(s);
  Garble("vda3");
  std::string e = Run();
  // b was refused for what it is, then a was verified (reached dm).
  EXPECT_NE(e.find("rootfs: slot b failed and slot a failed too: rootfs: device-mapper"),
            std::string::npos)
      << e;
  BootState r = Record();
  EXPECT_EQ(r.at(Slot::kB).tries_left, 0u);  // marked bad, stored
  EXPECT_FALSE(r.at(Slot::kB).good);
  EXPECT_GT(r.sequence, s.sequence);
}

TEST_F(SlotBootStage, NoFallbackToASlotThatIsNeitherGoodNorOnTrial) {
  BootState s;
  s.at(Slot::kA) = {3, true, 0};
  s.at(Slot::kB) = {0, false, 0};
  s.primary = Slot::kA;
  Store(s);
  Garble("vda2");
  std::string e = Run();
  EXPECT_NE(e.find("rootfs: slot a failed and slot b is neither good nor on trial"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("holds no valid image bundle"), std::string::npos) << e;
}

TEST_F(SlotBootStage, TheFloorIsTheHighestVersionMarkedGood) {
  BootState s;
  s.at(Slot::kA) = {5, true, 0};
  s.at(Slot::kB) = {3, true, 0};
  s.primary = Slot::kA;
  s.highest_good_version = 5;
  Store(s);  // both slots hold version 3 on disk: below the floor 5
  std::string e = Run();
  EXPECT_NE(e.find("below"), std::string::npos) << e;
  EXPECT_EQ(e.find("device-mapper"), std::string::npos) << e;  // neither got that far
  // rootfs.min-version alone (floor 2) lets version 3 through to dm.
  s.highest_good_version = 2;
  ++s.sequence;
  ++s.sequence;
  Store(s);
  e = Run();
  EXPECT_NE(e.find("device-mapper"), std::string::npos) << e;
}

// A jail's rootfs-slots take the same step through its start hook, with
// its own record (STATE/initos/jails/NAME/boot-state) and its name in the
// log lines; the OS record is not created or read.
TEST_F(SlotBootStage, AJailStartUsesTheSameStepWithItsOwnRecord) {
  BootState s;
  s.at(Slot::kA) = {3, true, 0};
  s.at(Slot::kB) = {4, false, 3};
  s.primary = Slot::kB;
  s.highest_good_version = 3;
  auto f = BootStateFile::Open(state_, true, JailBootStatePath("web"));
  ASSERT_TRUE(f.ok()) << f.error().str();
  ASSERT_TRUE(f->Store(s).ok());
  Garble("vda3");
  JailConfig jail;
  jail.name = "web";
  jail.kind = JailKind::kPrivileged;
  jail.rootfs_slots = {"PARTLABEL=os-a", "PARTLABEL=os-b"};
  jail.rootfs_name = "testos";
  config_.rootfs.slots.clear();
  JailModeSetup setup;
  setup.state_dir = state_;
  setup.env = env_;
  JailHooks hooks = JailHooksFor(config_, setup);
  auto r = hooks.prepare_rootfs(jail, IdRange{}, IdRange{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("jail web: slot b failed and slot a failed too"),
            std::string::npos)
      << r.error().str();
  EXPECT_NE(r.error().str().find("device-mapper"), std::string::npos) << r.error().str();
  auto l = BootStateFile::Open(state_, false, JailBootStatePath("web"))->Load();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->state.at(Slot::kB).tries_left, 0u);  // b: tried, failed, marked bad
  EXPECT_FALSE(l->state.at(Slot::kB).good);
  EXPECT_EQ(l->state.at(Slot::kA).tries_left, 0u);  // then a: reached dm here, failed too
  EXPECT_FALSE(fs::exists(state_ + "/initos/boot-state"));

  // rootfs-slots without a mounted state partition is refused up front.
  setup.state_dir.clear();
  auto none = JailHooksFor(config_, setup).prepare_rootfs(jail, IdRange{}, IdRange{});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().str().find("needs the state partition"), std::string::npos);
}

}  // namespace
}  // namespace initos
