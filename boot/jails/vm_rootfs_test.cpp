// PrepareVmRootfs (JailHooks::prepare_vm_rootfs) without root: a fake
// /sys/class/block whose "partition" is a regular file holding a real
// signed bundle. A VM jail's bundle is verified in full on the host before
// QEMU ever sees it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "boot/jails/jail_mode.h"
#include "boot/jails/testing/fake_bundle_partition.h"
#include "image/testing/test_bundles.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

class VmRootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    ASSERT_TRUE(MakeDirs(dir_ + "/tree/bin").ok());
    ASSERT_TRUE(WriteStringToFile(dir_ + "/tree/bin/hello", "#!/bin/sh\necho hi\n", 0755).ok());
    testutil::WriteTestKeys(dir_, {"a", "b"});
    testutil::BuildTestBundle(dir_, "tree", "os.bundle", "a", 4, 7);
    auto device = testutil::FakeBundlePartition(setup_.env, dir_, dir_ + "/os.bundle");
    ASSERT_TRUE(device.ok()) << device.error().str();
    config_.rootfs.keys = {dir_ + "/a.pub"};
    jail_.name = "vm1";
    jail_.kind = JailKind::kVm;
    jail_.rootfs = "PARTLABEL=vmroot";
    jail_.rootfs_name = "testos";
  }
  std::string Device() const { return setup_.env.dev_dir + "/vdb1"; }
  std::string Refusal() {
    auto r = PrepareVmRootfs(config_, setup_, jail_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().str();
  }

  testutil::TempDir tmp_;
  std::string dir_;
  JailModeSetup setup_;
  Config config_;
  JailConfig jail_;
};

TEST_F(VmRootfsTest, GoodBundleIsOpenedReadOnlyAndVerified) {
  auto r = PrepareVmRootfs(config_, setup_, jail_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->bundle_fd && r->bundle_fd->ok());
  EXPECT_EQ(r->version, 4u);
  EXPECT_EQ(r->key_paths, std::vector<std::string>{dir_ + "/a.pub"});
  int flags = ::fcntl(r->bundle_fd->get(), F_GETFL);
  EXPECT_EQ(flags & O_ACCMODE, O_RDONLY);
  EXPECT_TRUE(::fcntl(r->bundle_fd->get(), F_GETFD) & FD_CLOEXEC);
}

// One byte of the EROFS data flipped: the signature still matches, only
// the full block check catches it, before QEMU starts.
TEST_F(VmRootfsTest, FlippedDataByteIsRefused) {
  auto fd = OpenFile(Device(), O_RDWR);
  ASSERT_TRUE(fd.ok());
  const off_t at = 64 * 1024 + 1024 + 7;  // inside the EROFS superblock block
  char c;
  ASSERT_EQ(::pread(fd->get(), &c, 1, at), 1);
  c ^= 0x01;
  ASSERT_EQ(::pwrite(fd->get(), &c, 1, at), 1);
  std::string e = Refusal();
  EXPECT_EQ(e.rfind("rootfs: PARTLABEL=vmroot: ", 0), 0u) << e;
  EXPECT_NE(e.find("refusing to boot it"), std::string::npos) << e;
}

TEST_F(VmRootfsTest, UntrustedKeyIsRefused) {
  config_.rootfs.keys = {dir_ + "/b.pub"};
  EXPECT_NE(Refusal().find("refusing to boot it"), std::string::npos);
}

TEST_F(VmRootfsTest, OtherNameAndFloorAreRefused) {
  jail_.rootfs_name = "otheros";
  EXPECT_NE(Refusal().find("holds image \"testos\" but"), std::string::npos);
  jail_.rootfs_name = "testos";
  config_.rootfs.min_version = 5;
  EXPECT_NE(Refusal().find("below the minimum 5"), std::string::npos);
}

TEST_F(VmRootfsTest, DirectoryRootfsIsRefused) {
  jail_.rootfs = dir_ + "/tree";
  EXPECT_NE(Refusal().find("a VM jail boots a signed bundle"), std::string::npos);
}

}  // namespace
}  // namespace initos
