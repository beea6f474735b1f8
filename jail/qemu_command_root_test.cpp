// A VM jail's bundle on a partition: QEMU gets a block device fd, which its
// `file` driver refuses ("requires ... to be a regular file"). With
// block_device set the drive uses host_device and the real QEMU accepts it,
// read-only for the rootfs and read-write for a state disk. Loop devices
// stand in for partitions (root). The machine stays paused (-S).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "jail/qemu_command.h"
#include "jail/testing/qemu_qmp.h"
#include "os/loop.h"

namespace initos {
namespace {

std::string HostKernel() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/boot", ec))
    if (e.path().filename().string().starts_with("vmlinuz-")) return e.path().string();
  return "";
}

TEST(QemuBlockDeviceRoot, BundleAndStateDiskOnBlockDevicesUseHostDevice) {
  std::string kernel = HostKernel();
  ASSERT_FALSE(kernel.empty()) << "no /boot/vmlinuz-*: run scripts/setup.sh";
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir / "rootfs.img", std::string(1 << 20, 'r')).ok());
  ASSERT_TRUE(WriteStringToFile(dir / "state.img", std::string(1 << 20, 's')).ok());
  LoopOptions ro;
  LoopOptions rw;
  rw.read_only = false;
  auto rootfs_loop = AttachLoop(dir / "rootfs.img", ro);
  ASSERT_TRUE(rootfs_loop.ok()) << rootfs_loop.error().str();
  auto state_loop = AttachLoop(dir / "state.img", rw);
  ASSERT_TRUE(state_loop.ok()) << state_loop.error().str();
  // As jail/vm.cpp passes them: the access mode the drive needs.
  auto rootfs = OpenFile(rootfs_loop->path, O_RDONLY | O_CLOEXEC);
  auto state = OpenFile(state_loop->path, O_RDWR | O_CLOEXEC);
  ASSERT_TRUE(rootfs.ok() && state.ok());

  auto start = [&](bool block_device, testutil::QmpQemu& qemu) {
    QemuVm vm;
    vm.machine = "microvm";
    vm.memory_mb = 128;
    vm.kernel = kernel;
    vm.fd_disks = {{rootfs->get(), true, "initos-rootfs", block_device},
                   {state->get(), false, "initos-state", block_device}};
    vm.qmp_fd = qemu.qmp_child_fd();
    vm.no_defaults = true;
    vm.sandbox = true;
    auto argv = QemuArgv(vm);
    EXPECT_TRUE(argv.ok()) << argv.error().str();
    argv->push_back("-S");
    return qemu.Start(*argv, {rootfs->get(), state->get()}, dir / "qemu.log");
  };

  {
    // What a VM jail on a partition got before: refused.
    testutil::QmpQemu qemu;
    auto started = start(false, qemu);
    ASSERT_FALSE(started.ok()) << "QEMU took a block device through its file driver";
    auto log = ReadFileToString(dir / "qemu.log");
    EXPECT_NE(log.ok() ? log->find("regular file") : std::string::npos, std::string::npos)
        << (log.ok() ? *log : "");
  }

  testutil::QmpQemu qemu;
  auto started = start(true, qemu);
  auto log = ReadFileToString(dir / "qemu.log");
  ASSERT_TRUE(started.ok()) << started.error().str() << "\n" << (log.ok() ? *log : "");
  auto nodes = qemu.Execute(R"({"execute": "query-named-block-nodes"})");
  ASSERT_TRUE(nodes.ok()) << nodes.error().str();
  EXPECT_NE(nodes->find(R"("drv": "host_device")"), std::string::npos) << *nodes;
  EXPECT_EQ(nodes->find(R"("drv": "file")"), std::string::npos) << *nodes;
  auto block = qemu.Execute(R"({"execute": "query-block"})");
  ASSERT_TRUE(block.ok()) << block.error().str();
  auto ro_of = [&](const std::string& device) {
    size_t at = block->find("\"device\": \"" + device + "\"");
    size_t ro = block->find("\"ro\": ", at);
    return at == std::string::npos || ro == std::string::npos ? "" : block->substr(ro + 6, 4);
  };
  EXPECT_EQ(ro_of("fddisk0"), "true") << *block;
  EXPECT_EQ(ro_of("fddisk1"), "fals") << *block;
  auto quit = qemu.Execute(R"({"execute": "quit"})");
  ASSERT_TRUE(quit.ok()) << quit.error().str();
  auto status = qemu.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.ok()) << status.error().str();
  EXPECT_EQ(*status, 0);
}

}  // namespace
}  // namespace initos
