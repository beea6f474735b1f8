#include "jail/vm_argv.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace initos {
namespace {

std::string After(const std::vector<std::string>& argv, std::string_view flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}

bool Has(const std::vector<std::string>& argv, std::string_view value) {
  return std::find(argv.begin(), argv.end(), value) != argv.end();
}

std::vector<std::string> Values(const std::vector<std::string>& argv, std::string_view flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  return out;
}

JailConfig Vm() {
  JailConfig j;
  j.name = "v";
  j.kind = JailKind::kVm;
  j.rootfs = "PARTLABEL=v";
  j.rootfs_name = "v";
  j.command = {"/sbin/init"};
  return j;
}

VmResources Res() {
  VmResources r;
  r.accel = "tcg";
  r.kernel_path = "/proc/self/fd/5";
  r.initramfs_path = "/proc/self/fd/6";
  r.rootfs_fd = 7;
  r.qmp_fd = 8;
  r.vhost_vsock_fd = 9;
  r.guest_cid = 42;
  r.guest_cmdline = "initos.guest=1";
  return r;
}

TEST(VmArgvTest, DefaultVmIsAMicrovmWithItsRootfsQmpAndVsock) {
  auto argv = VmJailArgv(Vm(), Res());
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  const auto& a = *argv;
  EXPECT_EQ(a[0], "qemu-system-x86_64");
  EXPECT_EQ(After(a, "-accel"), "tcg");
  EXPECT_EQ(After(a, "-M"), "microvm");
  EXPECT_EQ(After(a, "-m"), "512");
  EXPECT_EQ(After(a, "-smp"), "1");
  EXPECT_EQ(After(a, "-kernel"), "/proc/self/fd/5");
  EXPECT_EQ(After(a, "-initrd"), "/proc/self/fd/6");
  EXPECT_EQ(After(a, "-append"), "console=ttyS0 panic=-1 tsc_early_khz=2000000 initos.guest=1");
  EXPECT_EQ(Values(a, "-add-fd"), (std::vector<std::string>{"fd=7,set=1,opaque=fddisk0"}));
  EXPECT_EQ(
      Values(a, "-drive"),
      (std::vector<std::string>{"file=/dev/fdset/1,format=raw,if=none,id=fddisk0,readonly=on"}));
  EXPECT_EQ(Values(a, "-device"),
            (std::vector<std::string>{"virtio-blk-device,drive=fddisk0,serial=initos-rootfs",
                                      "vhost-vsock-device,guest-cid=42,vhostfd=9", "pvpanic"}));
  EXPECT_EQ(Values(a, "-chardev"),
            (std::vector<std::string>{"stdio,id=console,signal=off", "socket,id=qmp,fd=8"}));
  EXPECT_EQ(After(a, "-mon"), "chardev=qmp,mode=control");
  EXPECT_EQ(After(a, "-serial"), "chardev:console");
  EXPECT_EQ(After(a, "-monitor"), "none");
  EXPECT_EQ(After(a, "-action"), "panic=exit-failure");
  EXPECT_EQ(After(a, "-sandbox"),
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  for (const char* flag : {"-nodefaults", "-no-reboot", "-nographic"})
    EXPECT_TRUE(Has(a, flag)) << flag;
  for (const char* flag : {"-netdev", "-nic", "-initos"}) EXPECT_FALSE(Has(a, flag)) << flag;
}

TEST(VmArgvTest, KernelCommandLineIsBaseThenSupervisorThenJail) {
  JailConfig j = Vm();
  j.vm.kernel_args = {"quiet", "systemd.unit=multi-user.target"};
  j.vm.machine = "q35";
  auto argv = VmJailArgv(j, Res());
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(After(*argv, "-append"),
            "console=ttyS0 panic=-1 initos.guest=1 quiet systemd.unit=multi-user.target");
  VmResources r = Res();
  r.guest_cmdline.clear();
  argv = VmJailArgv(j, r);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-append"), "console=ttyS0 panic=-1 quiet systemd.unit=multi-user.target");
}

TEST(VmArgvTest, Q35WithKvmStateDiskTapAndPassthrough) {
  JailConfig j = Vm();
  j.vm.machine = "q35";
  j.vm.accel = "kvm";
  j.vm.cpus = 4;
  j.vm.memory = 2ull << 30;
  j.vm.state_disk = "/dev/vdb";
  j.network.kind = JailNetworkKind::kTap;
  j.devices = {"0000:01:00.0"};
  VmResources r = Res();
  r.accel = "kvm";
  r.state_disk_fd = 10;
  r.tap_fd = 11;
  r.vfio_devices = {"0000:01:00.0"};
  auto argv = VmJailArgv(j, r);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  const auto& a = *argv;
  EXPECT_EQ(After(a, "-accel"), "kvm");
  EXPECT_EQ(After(a, "-M"), "q35");
  EXPECT_EQ(After(a, "-m"), "2048");
  EXPECT_EQ(After(a, "-smp"), "4");
  EXPECT_EQ(After(a, "-append"), "console=ttyS0 panic=-1 initos.guest=1");  // no tsc_early_khz
  EXPECT_EQ(Values(a, "-add-fd"),
            (std::vector<std::string>{"fd=7,set=1,opaque=fddisk0", "fd=10,set=2,opaque=fddisk1"}));
  EXPECT_TRUE(
      Has(a, "file=/dev/fdset/2,format=raw,if=none,id=fddisk1,readonly=off,auto-read-only=off"));
  EXPECT_EQ(After(a, "-netdev"), "tap,id=net0,fd=11");
  EXPECT_EQ(
      Values(a, "-device"),
      (std::vector<std::string>{
          "virtio-blk-pci,drive=fddisk0,serial=initos-rootfs",
          "virtio-blk-pci,drive=fddisk1,serial=initos-state", "virtio-net-pci,netdev=net0",
          "vhost-vsock-pci,guest-cid=42,vhostfd=9", "vfio-pci,host=0000:01:00.0", "pvpanic"}));
}

// A bundle (or state disk) on a partition is a block device: QEMU's file
// driver refuses it, so those disks get host_device; files keep `file`.
TEST(VmArgvTest, BlockDeviceDisksUseHostDevice) {
  JailConfig j = Vm();
  j.vm.state_disk = "/dev/vdb";
  VmResources r = Res();
  r.state_disk_fd = 10;
  r.rootfs_block_device = true;
  auto argv = VmJailArgv(j, r);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(
      Values(*argv, "-drive"),
      (std::vector<std::string>{
          "file=/dev/fdset/1,format=raw,file.driver=host_device,if=none,id=fddisk0,"
          "readonly=on",
          "file=/dev/fdset/2,format=raw,if=none,id=fddisk1,readonly=off,auto-read-only=off"}));
  r.rootfs_block_device = false;
  r.state_disk_block_device = true;
  argv = VmJailArgv(j, r);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(Values(*argv, "-drive"),
            (std::vector<std::string>{
                "file=/dev/fdset/1,format=raw,if=none,id=fddisk0,readonly=on",
                "file=/dev/fdset/2,format=raw,file.driver=host_device,if=none,id=fddisk1,"
                "readonly=off,auto-read-only=off"}));
  auto vm = VmFromJail(j, r);
  ASSERT_TRUE(vm.ok()) << vm.error().str();
  ASSERT_EQ(vm->fd_disks.size(), 2u);
  EXPECT_FALSE(vm->fd_disks[0].block_device);
  EXPECT_TRUE(vm->fd_disks[1].block_device);
}

TEST(VmArgvTest, UserNetworkAndNoVsock) {
  JailConfig j = Vm();
  j.network.kind = JailNetworkKind::kUser;
  j.vm.vsock = false;
  VmResources r = Res();
  r.vhost_vsock_fd = -1;
  r.guest_cid = 0;
  auto argv = VmJailArgv(j, r);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(After(*argv, "-netdev"), "user,id=net0");
  EXPECT_EQ(Values(*argv, "-device"),
            (std::vector<std::string>{"virtio-blk-device,drive=fddisk0,serial=initos-rootfs",
                                      "virtio-net-device,netdev=net0", "pvpanic"}));
}

TEST(VmArgvTest, ResourcesThatDoNotFitTheJailAreRefused) {
  auto err = [](auto edit) {
    JailConfig j = Vm();
    VmResources r = Res();
    edit(j, r);
    auto argv = VmJailArgv(j, r);
    return argv.ok() ? std::string() : argv.error().str();
  };
  EXPECT_EQ(err([](JailConfig&, VmResources&) {}), "");
  EXPECT_NE(err([](JailConfig& j, VmResources&) {
              j.kind = JailKind::kUnprivileged;
            }).find("vm v: not a kind = \"vm\" jail"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig&, VmResources& r) { r.accel = "auto"; }).find("not resolved"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig& j, VmResources&) {
              j.vm.accel = "kvm";
            }).find("the jail asks for accel kvm, not tcg"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig&, VmResources& r) { r.initramfs_path.clear(); }).find("initramfs"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig&, VmResources& r) { r.rootfs_fd = -1; }).find("no rootfs fd"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig&, VmResources& r) { r.qmp_fd = -1; }).find("no QMP fd"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig& j, VmResources&) {
              j.vm.state_disk = "/d";
            }).find("state-disk is set but no fd"),
            std::string::npos);
  EXPECT_NE(
      err([](JailConfig&, VmResources& r) { r.state_disk_fd = 3; }).find("without state-disk"),
      std::string::npos);
  EXPECT_NE(err([](JailConfig&, VmResources& r) {
              r.vhost_vsock_fd = -1;
            }).find("no /dev/vhost-vsock fd"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig& j, VmResources&) { j.vm.vsock = false; }).find("with vsock = false"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig&, VmResources& r) { r.guest_cid = 2; }).find("guest CID 2"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig& j, VmResources&) {
              j.network.kind = JailNetworkKind::kTap;
            }).find("no tap fd"),
            std::string::npos);
  EXPECT_NE(
      err([](JailConfig&, VmResources& r) { r.tap_fd = 4; }).find("without network = \"tap\""),
      std::string::npos);
  EXPECT_NE(err([](JailConfig& j, VmResources&) {
              j.network.kind = JailNetworkKind::kVeth;
            }).find("is not a VM network"),
            std::string::npos);
  EXPECT_NE(err([](JailConfig& j, VmResources& r) {
              j.vm.machine = "q35";
              j.devices = {"0000:01:00.0"};
              r.vfio_devices = {};
            }).find("are not the jail's devices"),
            std::string::npos);
  // VFIO on microvm is refused at load; QemuArgv refuses it again.
  EXPECT_NE(err([](JailConfig& j, VmResources& r) {
              j.devices = r.vfio_devices = {"0000:01:00.0"};
            }).find("VFIO passthrough needs machine q35"),
            std::string::npos);
}

TEST(VmArgvTest, VmFromJailKeepsTheFieldsForTheSupervisor) {
  JailConfig j = Vm();
  j.vm.memory = 1ull << 30;
  auto vm = VmFromJail(j, Res());
  ASSERT_TRUE(vm.ok()) << vm.error().str();
  EXPECT_EQ(vm->memory_mb, 1024);
  EXPECT_EQ(vm->qmp_fd, 8);
  ASSERT_EQ(vm->fd_disks.size(), 1u);
  EXPECT_EQ(vm->fd_disks[0].serial, "initos-rootfs");
  EXPECT_TRUE(vm->fd_disks[0].read_only);
  EXPECT_TRUE(vm->no_reboot);
  EXPECT_TRUE(vm->sandbox);
}

}  // namespace
}  // namespace initos
