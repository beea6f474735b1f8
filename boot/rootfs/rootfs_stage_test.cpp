// The stage's refusals up to the device-mapper step, without root: a fake
// /sys/class/block whose "partition" node is a regular file holding a real
// bundle. Everything past verification (dm, mounts) is covered by
// qemu-tests/rootfs_boot_test.cpp.
#include "boot/rootfs/rootfs_stage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "format/signing.h"
#include "image/bundle.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

class RootfsStage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/rootfs_stage_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    shared_ = tmpl;
    ASSERT_TRUE(MakeDirs(shared_ + "/tree/bin").ok());
    ASSERT_TRUE(WriteStringToFile(shared_ + "/tree/bin/hello", "#!/bin/sh\necho hi\n", 0755).ok());
    for (const char* k : {"a", "b"}) {
      auto pair = GenerateKeyPair(KeyType::kEd25519);
      ASSERT_TRUE(pair.ok());
      ASSERT_TRUE(WriteStringToFile(shared_ + "/" + k + ".key", pair->private_pem, 0600).ok());
      ASSERT_TRUE(WriteStringToFile(shared_ + "/" + k + ".pub", pair->public_pem).ok());
    }
    auto key = LoadPrivateKey(shared_ + "/a.key");
    ASSERT_TRUE(key.ok()) << key.error().str();
    BundleBuildOptions o;
    o.rootfs = shared_ + "/tree";
    o.output = shared_ + "/os.bundle";
    o.name = "testos";
    o.version = 3;
    o.created = 1700000000;
    o.salt = std::vector<uint8_t>(32, 7);
    o.temp_dir = shared_;
    auto m = BuildBundle(o, *key);
    ASSERT_TRUE(m.ok()) << m.error().str();
  }
  static void TearDownTestSuite() { fs::remove_all(shared_); }

  void SetUp() override {
    char tmpl[] = "/tmp/rootfs_env_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_.dev_dir = dir_ + "/dev";
    env_.class_block_dir = dir_ + "/sys/class/block";
    env_.sys_root = dir_ + "/sys";
    env_.run_dir = dir_ + "/run/initos";
    env_.target = dir_ + "/sysroot";
    env_.device_timeout_ms = 200;
    ASSERT_TRUE(MakeDirs(env_.dev_dir).ok());
    ASSERT_TRUE(MakeDirs(env_.class_block_dir + "/vda2").ok());
    ASSERT_TRUE(WriteStringToFile(env_.class_block_dir + "/vda2/uevent",
                                  "MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\n"
                                  "PARTN=2\nPARTNAME=rootA\n")
                    .ok());
    fs::copy_file(shared_ + "/os.bundle", Device());
    config_.rootfs.image = "PARTLABEL=rootA";
    config_.rootfs.name = "testos";
    config_.rootfs.keys = {shared_ + "/a.pub"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Device() const { return env_.dev_dir + "/vda2"; }
  std::string Run() {
    auto r = MountVerifiedRoot(config_, env_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().str();
  }
  void FlipBit(uint64_t offset) {
    auto fd = OpenFile(Device(), O_RDWR);
    ASSERT_TRUE(fd.ok());
    char c;
    ASSERT_EQ(::pread(fd->get(), &c, 1, static_cast<off_t>(offset)), 1);
    c ^= 0x10;
    ASSERT_EQ(::pwrite(fd->get(), &c, 1, static_cast<off_t>(offset)), 1);
  }
  OpenedBundle Bundle() {
    auto fd = OpenFile(Device(), O_RDONLY);
    EXPECT_TRUE(fd.ok());
    auto b = ReadBundle(fd->get());
    EXPECT_TRUE(b.ok()) << b.error().str();
    return *b;
  }
  // Offset of `needle` in the header area.
  uint64_t HeaderOffset(const std::string& needle) {
    auto text = ReadFileToString(Device());
    EXPECT_TRUE(text.ok());
    size_t at = text->substr(0, kBundleHeaderAreaSize).find(needle);
    EXPECT_NE(at, std::string::npos);
    return at;
  }

  static std::string shared_;
  std::string dir_;
  BootEnv env_;
  Config config_;
};
std::string RootfsStage::shared_;

TEST_F(RootfsStage, GoodBundleGetsAsFarAsDeviceMapper) {
  // Header, signature, manifest, layout and floor pass; the fake /sys has no
  // device-mapper, which is the first thing that needs the kernel.
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: device-mapper", 0), 0u) << e;
}

TEST_F(RootfsStage, FlippedManifestBitIsRefused) {
  FlipBit(HeaderOffset("name=testos") + 5);
  EXPECT_EQ(Run(), "rootfs: signature of PARTLABEL=rootA does not match any of 1 trusted key (" +
                       shared_ + "/a.pub)");
}

TEST_F(RootfsStage, FlippedSignatureBitIsRefused) {
  OpenedBundle b = Bundle();
  FlipBit(HeaderOffset(b.header.signature) + 10);
  EXPECT_EQ(Run().find("rootfs: signature of PARTLABEL=rootA does not match"), 0u);
}

TEST_F(RootfsStage, WrongKeyIsRefused) {
  config_.rootfs.keys = {shared_ + "/b.pub", shared_ + "/b.pub"};
  EXPECT_EQ(Run(), "rootfs: signature of PARTLABEL=rootA does not match any of 2 trusted keys (" +
                       shared_ + "/b.pub, " + shared_ + "/b.pub)");
}

// Development mode (rootfs.insecure-dev-mode, signed config only): a bundle
// no trusted key signed gets past the signature to the next check, with a
// warning; everything after it (name, layout, floor, dm-verity) still holds.
TEST_F(RootfsStage, DevelopmentModeAcceptsAnotherKeysSignature) {
  config_.rootfs.keys = {shared_ + "/b.pub"};
  config_.rootfs.insecure_dev_mode = true;
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: device-mapper", 0), 0u) << e;
}

TEST_F(RootfsStage, DevelopmentModeAcceptsAFlippedSignatureButStillChecksTheName) {
  OpenedBundle b = Bundle();
  FlipBit(HeaderOffset(b.header.signature) + 10);
  config_.rootfs.insecure_dev_mode = true;
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: device-mapper", 0), 0u) << e;
  config_.rootfs.name = "otheros";
  EXPECT_NE(Run().find("holds image \"testos\" but rootfs.name is \"otheros\""), std::string::npos);
}

TEST_F(RootfsStage, DevelopmentModeStillRefusesAnUnparsableManifest) {
  FlipBit(HeaderOffset("name=testos") + 2);  // "naMe": not a manifest key
  config_.rootfs.insecure_dev_mode = true;
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: manifest of PARTLABEL=rootA is unusable", 0), 0u) << e;
}

TEST(RootfsRecord, UnsignedDevelopmentImageIsNeverRecorded) {
  MountedRoot root;
  root.state_dir = "/nonexistent-state";  // would fail loudly if it were written
  root.image = {"testos", 9, std::string(64, 'a')};
  auto r = RecordSuccessfulBoot(root);  // key "" = no trusted key signed it
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(*r);
}

TEST_F(RootfsStage, SecondTrustedKeyVerifies) {
  config_.rootfs.keys = {shared_ + "/b.pub", shared_ + "/a.pub"};
  EXPECT_EQ(Run().rfind("rootfs: device-mapper", 0), 0u);
}

TEST_F(RootfsStage, UnloadableKeyIsSkippedNotTrusted) {
  config_.rootfs.keys = {shared_ + "/missing.pub", shared_ + "/b.pub"};
  EXPECT_NE(Run().find("does not match any of 1 trusted key"), std::string::npos);
  config_.rootfs.keys = {shared_ + "/missing.pub"};
  EXPECT_NE(Run().find("none of the 1 keys in rootfs.keys loads"), std::string::npos);
  config_.rootfs.keys = {};
  EXPECT_NE(Run().find("rootfs.keys lists no trusted public key"), std::string::npos);
}

// A validly signed bundle of another product is refused before anything is
// mounted: the state partition (missing here) would otherwise be looked for.
TEST_F(RootfsStage, ImageOfAnotherNameIsRefused) {
  config_.rootfs.name = "otheros";
  config_.state.device = "PARTLABEL=nowhere";
  EXPECT_EQ(Run(),
            "rootfs: PARTLABEL=rootA holds image \"testos\" but rootfs.name is \"otheros\"; "
            "refusing it: point rootfs.image at an image built with --name otheros");
  EXPECT_FALSE(fs::exists(env_.run_dir + "/state"));
  config_.rootfs.name = "";
  EXPECT_NE(Run().find("rootfs.name is not set"), std::string::npos);
}

TEST_F(RootfsStage, VersionBelowMinimumIsRefused) {
  config_.rootfs.min_version = 5;
  EXPECT_EQ(Run(),
            "rootfs: PARTLABEL=rootA: image version 3 is below the minimum 5 (rootfs.min-version); "
            "refusing rollback");
  config_.rootfs.min_version = 3;
  EXPECT_EQ(Run().rfind("rootfs: device-mapper", 0), 0u);
}

TEST_F(RootfsStage, MissingPartitionIsReported) {
  config_.rootfs.image = "PARTLABEL=rootB";
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: no block device with PARTLABEL=rootB after 0.2 s", 0), 0u) << e;
}

TEST_F(RootfsStage, TruncatedDeviceIsRefused) {
  OpenedBundle b = Bundle();
  ASSERT_EQ(::truncate(Device().c_str(), static_cast<off_t>(b.device_size - 4096)), 0);
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: ", 0), 0u) << e;
  EXPECT_NE(e.find("device has only"), std::string::npos) << e;
}

TEST_F(RootfsStage, NotABundleIsRefused) {
  ASSERT_TRUE(WriteStringToFile(Device(), std::string(1 << 20, 'x')).ok());
  std::string e = Run();
  EXPECT_EQ(e.rfind("rootfs: PARTLABEL=rootA (" + Device() + ") holds no valid image bundle", 0),
            0u)
      << e;
}

TEST_F(RootfsStage, BareLabelCannotNameABundle) {
  config_.rootfs.image = "LABEL=imgs";
  EXPECT_NE(Run().find("a bundle has no filesystem label"), std::string::npos);
}

TEST_F(RootfsStage, BadImageSpec) {
  config_.rootfs.image = "/dev/vda2";
  EXPECT_EQ(Run().rfind("rootfs: rootfs.image: block device '/dev/vda2' must be", 0), 0u);
}

}  // namespace
}  // namespace initos
