// A VM jail's bundle changed on the host after QEMU started (issue 11):
// the host verified every block before the start and the guest set up
// dm-verity over the disk, so a block the guest reads later is checked
// against the signed hash tree; a flipped byte gives the reader EIO
// (rootfs.on-corruption = "eio", the guest's default), never the changed
// data. Through the supervisor as in vm_jail_root_test.cpp (TCG, no vsock).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "base/file.h"
#include "base/log.h"
#include "base/supervision.h"
#include "base/testing/test_util.h"
#include "boot/jails/jail_mode.h"
#include "boot/jails/testing/fake_bundle_partition.h"
#include "boot/jails/testing/jail_loop.h"
#include "image/testing/test_bundles.h"
#include "jail/supervisor.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kPoolStart = 340000;
// /data/big: 4 MiB of numbered lines, each one unique, so the line to
// change is found in the bundle by its text.
constexpr int kLines = 4 * 1024 * 1024 / 24;
constexpr int kTamperedLine = 100000;
std::string Line(int i) {
  char b[32];
  std::snprintf(b, sizeof(b), "VMDEB-TAMPER-LINE-%05d\n", i);
  return b;  // 24 bytes
}

class VmJailTamperRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/qemu-system-x86_64", X_OK), 0) << "install qemu-system-x86";
    dir_ = tmp_.path();
    ASSERT_TRUE(MakeDirs(dir_ + "/tree/bin").ok());
    ASSERT_TRUE(MakeDirs(dir_ + "/tree/data").ok());
    fs::copy_file("/bin/busybox", dir_ + "/tree/bin/busybox");
    for (const char* app : {"sh", "echo", "sleep", "md5sum"})
      fs::create_symlink("busybox", dir_ + "/tree/bin/" + app);
    for (const char* d : {"proc", "sys", "dev", "tmp", "etc"})
      ASSERT_TRUE(MakeDirs(dir_ + "/tree/" + d).ok());
    std::string big;
    for (int i = 0; i < kLines; ++i) big += Line(i);
    ASSERT_TRUE(WriteStringToFile(dir_ + "/tree/data/big", big).ok());
    // Read before the change: the disk and the guest's reads work.
    ASSERT_TRUE(WriteStringToFile(dir_ + "/tree/data/small", "untouched\n").ok());
    testutil::WriteTestKeys(dir_, {"a"});
    testutil::BuildTestBundle(dir_, "tree", "os.bundle", "a", 2, 9);
    auto device = testutil::FakeBundlePartition(setup_.env, dir_, dir_ + "/os.bundle");
    ASSERT_TRUE(device.ok()) << device.error().str();
    config_.rootfs.keys = {dir_ + "/a.pub"};
    config_.jails.uid_pool_start = kPoolStart;
    config_.jails.socket = dir_ + "/jails.sock";
    JailConfig j;
    j.name = "vmtamper";
    j.kind = JailKind::kVm;
    j.rootfs = "PARTLABEL=vmroot";
    j.rootfs_name = "testos";
    // Markers computed by the guest's shell: its initos may echo the
    // command line on the same console. The guest waits for the host to
    // change the bundle, then reads /data/big for the first time.
    j.command = {"/bin/sh", "-c",
                 "md5sum /data/small; echo VMJAIL-WAIT-$((6*7)); sleep 15; md5sum /data/big; r=$?; "
                 "echo VMJAIL-READ-$((r+100)); while :; do sleep 1; done"};
    j.vm.kernel = testutil::TestVmKernel();
    j.vm.accel = "tcg";
    j.vm.memory = 256ull << 20;
    j.vm.vsock = false;  // no /dev/vhost-vsock on this host
    j.stop_timeout_ms = 3000;
    config_.jails.jails = {j};
  }

  std::string Bundle() const { return setup_.env.dev_dir + "/vdb1"; }

  void Start() {
    auto started = loop_.Start(config_, setup_);
    ASSERT_TRUE(started.ok()) << started.error().str();
    jails_ = &loop_.jails();
  }
  bool RunUntil(const std::function<bool()>& done, double seconds) {
    return loop_.RunUntil(done, seconds);
  }
  std::string Log() { return *jails_->LogText("vmtamper"); }
  bool Logged(const std::string& what) { return Log().find(what) != std::string::npos; }

  testutil::TempDir tmp_;
  std::string dir_;
  JailModeSetup setup_;
  Config config_;
  testutil::JailLoop loop_;
  JailSupervisor* jails_ = nullptr;  // loop_'s, once Start()ed
};

TEST_F(VmJailTamperRootTest, ByteFlippedAfterStartGivesEioInTheGuestNeverTheData) {
  // Where the line is in the bundle: EROFS stores the file's data as is.
  auto bundle = ReadFileToString(Bundle());
  ASSERT_TRUE(bundle.ok());
  const std::string target = Line(kTamperedLine);
  const size_t at = bundle->find(target);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bundle->find(target, at + 1), std::string::npos);
  bundle->clear();

  Start();
  ASSERT_EQ(jails_->State("vmtamper"), JailState::kRunning) << *jails_->StatusText("vmtamper");
  ASSERT_TRUE(RunUntil([&] { return Logged("VMJAIL-WAIT-42"); }, 180)) << Log();
  // The guest runs its command from the verified bundle; now the host
  // changes one digit of the line, a plausible but wrong content.
  {
    auto fd = OpenFile(Bundle(), O_RDWR);
    ASSERT_TRUE(fd.ok());
    const off_t digit = at + target.size() - 2;
    char c;
    ASSERT_EQ(::pread(fd->get(), &c, 1, digit), 1);
    c = c == '7' ? '8' : '7';
    ASSERT_EQ(::pwrite(fd->get(), &c, 1, digit), 1);
    ASSERT_EQ(::fsync(fd->get()), 0);
  }
  ASSERT_TRUE(RunUntil([&] { return Logged("VMJAIL-READ-1"); }, 120)) << Log();
  const std::string log = Log();
  // md5sum failed (status 1) with EIO and printed no digest of any data.
  EXPECT_NE(log.find("VMJAIL-READ-101"), std::string::npos) << log;
  EXPECT_NE(log.find("md5sum: can't read '/data/big': Input/output error"), std::string::npos)
      << log;
  // The control read before the change printed its digest.
  EXPECT_NE(log.find("  /data/small"), std::string::npos) << log;
  EXPECT_EQ(log.find("  /data/big"), std::string::npos) << log;
  ASSERT_TRUE(jails_->Stop("vmtamper").ok());
  EXPECT_TRUE(RunUntil([&] { return jails_->State("vmtamper") == JailState::kStopped; }, 30))
      << Log();
}

}  // namespace
}  // namespace initos
