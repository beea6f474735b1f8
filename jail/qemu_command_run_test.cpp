// The argv of jail/qemu_command.h run by the real QEMU (Debian's
// qemu-system-x86, installed by scripts/setup.sh): every fd-passing option
// a VM jail uses is accepted, and the disks, serials, QMP socket and
// devices are what the guest would see. The machine stays paused (-S):
// nothing boots, so this takes a second.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "jail/qemu_command.h"
#include "jail/testing/qemu_qmp.h"
#include "jail/vm_argv.h"

namespace initos {
namespace {

// Any kernel image: QEMU loads it at start even when paused.
std::string HostKernel() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/boot", ec))
    if (e.path().filename().string().starts_with("vmlinuz-")) return e.path().string();
  return "";
}

std::string QemuLog(const testutil::TempDir& dir) {
  auto log = ReadFileToString(dir / "qemu.log");
  return log.ok() ? *log : "";
}

class QemuRunTest : public ::testing::TestWithParam<std::string> {};

TEST_P(QemuRunTest, FdDisksQmpSocketAndJailOptionsAreAccepted) {
  std::string kernel = HostKernel();
  ASSERT_FALSE(kernel.empty())
      << "no /boot/vmlinuz-*: run scripts/setup.sh (linux-image-cloud-amd64)";
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir / "rootfs.img", std::string(1 << 20, 'r')).ok());
  ASSERT_TRUE(WriteStringToFile(dir / "state.img", std::string(1 << 20, 's')).ok());
  auto rootfs = OpenFile(dir / "rootfs.img", O_RDONLY | O_CLOEXEC);
  auto state = OpenFile(dir / "state.img", O_RDWR | O_CLOEXEC);
  ASSERT_TRUE(rootfs.ok() && state.ok());

  testutil::QmpQemu qemu;
  QemuVm vm;
  vm.machine = GetParam();
  vm.memory_mb = 128;
  vm.kernel = kernel;
  vm.fd_disks = {{rootfs->get(), true, "initos-rootfs"}, {state->get(), false, "initos-state"}};
  vm.qmp_fd = qemu.qmp_child_fd();
  vm.user_net = true;
  vm.panic_exits = true;
  vm.sandbox = true;
  vm.no_defaults = true;
  vm.console_signals = false;
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  argv->push_back("-S");  // paused: the guest never runs
  auto started = qemu.Start(*argv, {rootfs->get(), state->get()}, dir / "qemu.log");
  ASSERT_TRUE(started.ok()) << started.error().str() << "\n" << QemuLog(dir);

  auto block = qemu.Execute(R"({"execute": "query-block"})");
  ASSERT_TRUE(block.ok()) << block.error().str();
  // Both disks came from their fdsets; the rootfs is read-only, the state disk not.
  EXPECT_NE(block->find(R"("device": "fddisk0")"), std::string::npos) << *block;
  EXPECT_NE(block->find(R"("file": "/dev/fdset/1")"), std::string::npos) << *block;
  EXPECT_NE(block->find(R"("file": "/dev/fdset/2")"), std::string::npos) << *block;
  ASSERT_NE(block->find(R"("device": "fddisk1")"), std::string::npos) << *block;
  auto ro_of = [&](const std::string& device) {
    // query-block lists each device's name, then its "inserted" medium.
    size_t at = block->find("\"device\": \"" + device + "\"");
    size_t ro = block->find("\"ro\": ", at);
    return block->substr(ro + 6, 4);
  };
  EXPECT_EQ(ro_of("fddisk0"), "true") << *block;
  EXPECT_EQ(ro_of("fddisk1"), "fals") << *block;

  auto tree = qemu.Execute(
      R"({"execute": "human-monitor-command", "arguments": {"command-line": "info qtree"}})");
  ASSERT_TRUE(tree.ok()) << tree.error().str();
  std::string blk = vm.machine == "q35" ? "virtio-blk-pci" : "virtio-blk-device";
  EXPECT_NE(tree->find("dev: " + blk), std::string::npos) << *tree;
  EXPECT_NE(tree->find(R"(serial = \"initos-rootfs\")"), std::string::npos) << *tree;
  EXPECT_NE(tree->find(R"(serial = \"initos-state\")"), std::string::npos) << *tree;
  EXPECT_NE(tree->find("dev: pvpanic"), std::string::npos) << *tree;
  EXPECT_NE(tree->find(vm.machine == "q35" ? "dev: virtio-net-pci" : "dev: virtio-net-device"),
            std::string::npos)
      << *tree;

  auto quit = qemu.Execute(R"({"execute": "quit"})");
  ASSERT_TRUE(quit.ok()) << quit.error().str();
  auto status = qemu.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.ok()) << status.error().str();
  EXPECT_EQ(*status, 0);
}

// Exactly the argv of a VM jail (jail/vm_argv.h), without vsock (this
// host has no /dev/vhost-vsock): QEMU starts on it and the disks are the
// jail's, found by serial.
TEST_P(QemuRunTest, VmJailArgvStarts) {
  std::string kernel = HostKernel();
  ASSERT_FALSE(kernel.empty()) << "no /boot/vmlinuz-*: run scripts/setup.sh";
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir / "rootfs.img", std::string(1 << 20, 'r')).ok());
  ASSERT_TRUE(WriteStringToFile(dir / "state.img", std::string(1 << 20, 's')).ok());
  ASSERT_TRUE(WriteStringToFile(dir / "initramfs", std::string(4096, 'i')).ok());
  auto rootfs = OpenFile(dir / "rootfs.img", O_RDONLY | O_CLOEXEC);
  auto state = OpenFile(dir / "state.img", O_RDWR | O_CLOEXEC);
  ASSERT_TRUE(rootfs.ok() && state.ok());
  JailConfig j;
  j.name = "v";
  j.kind = JailKind::kVm;
  j.vm.machine = GetParam();
  j.vm.memory = 128ull << 20;
  j.vm.vsock = false;
  j.vm.state_disk = "/srv/v-state.img";
  j.vm.kernel_args = {"quiet"};
  j.network.kind = JailNetworkKind::kUser;
  testutil::QmpQemu qemu;
  VmResources r;
  r.accel = "tcg";
  r.kernel_path = kernel;
  r.initramfs_path = dir / "initramfs";
  r.rootfs_fd = rootfs->get();
  r.state_disk_fd = state->get();
  r.qmp_fd = qemu.qmp_child_fd();
  auto argv = VmJailArgv(j, r);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  argv->push_back("-S");
  auto started = qemu.Start(*argv, {rootfs->get(), state->get()}, dir / "qemu.log");
  ASSERT_TRUE(started.ok()) << started.error().str() << "\n" << QemuLog(dir);
  auto tree = qemu.Execute(
      R"({"execute": "human-monitor-command", "arguments": {"command-line": "info qtree"}})");
  ASSERT_TRUE(tree.ok()) << tree.error().str();
  EXPECT_NE(tree->find(R"(serial = \"initos-rootfs\")"), std::string::npos) << *tree;
  EXPECT_NE(tree->find(R"(serial = \"initos-state\")"), std::string::npos) << *tree;
  auto quit = qemu.Execute(R"({"execute": "quit"})");
  ASSERT_TRUE(quit.ok()) << quit.error().str();
  auto status = qemu.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.ok()) << status.error().str();
  EXPECT_EQ(*status, 0);
}

// Named by the machine, as ctest and the skip check see them.
INSTANTIATE_TEST_SUITE_P(Machines, QemuRunTest, ::testing::Values("q35", "microvm"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace initos
