#include "jail/qemu_command.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace initos {
namespace {

// The value following `flag` in argv ("" when absent), for one-valued flags.
std::string After(const std::vector<std::string>& argv, std::string_view flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}

size_t CountOf(const std::vector<std::string>& argv, std::string_view flag) {
  return static_cast<size_t>(std::count(argv.begin(), argv.end(), flag));
}

TEST(QemuCommandTest, DefaultVmBootsKernelAndInitramfsOnTheSerialConsole) {
  QemuVm vm;
  vm.kernel = "/boot/vmlinuz";
  vm.initramfs = "/tmp/i.img";
  vm.append = "initos.init.log-level=debug";
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ((*argv)[0], "qemu-system-x86_64");
  EXPECT_EQ(After(*argv, "-accel"), "tcg");
  EXPECT_EQ(After(*argv, "-M"), "q35");
  EXPECT_EQ(After(*argv, "-m"), "512");
  EXPECT_EQ(After(*argv, "-smp"), "1");
  EXPECT_EQ(After(*argv, "-serial"), "stdio");
  EXPECT_EQ(After(*argv, "-monitor"), "none");
  EXPECT_EQ(After(*argv, "-kernel"), "/boot/vmlinuz");
  EXPECT_EQ(After(*argv, "-initrd"), "/tmp/i.img");
  EXPECT_EQ(After(*argv, "-append"), "console=ttyS0 panic=-1 initos.init.log-level=debug");
  EXPECT_EQ(CountOf(*argv, "-no-reboot"), 1u);
  EXPECT_EQ(After(*argv, "-nic"), "none");
}

TEST(QemuCommandTest, DisksInOrderReadOnlyWhenAsked) {
  QemuVm vm;
  vm.kernel = "k";
  vm.disks = {{"/a.img", false}, {"/b.img", true}};
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok());
  std::vector<std::string> drives;
  for (size_t i = 0; i + 1 < argv->size(); ++i)
    if ((*argv)[i] == "-drive") drives.push_back((*argv)[i + 1]);
  ASSERT_EQ(drives.size(), 2u);
  EXPECT_EQ(drives[0], "file=/a.img,format=raw,if=virtio,id=disk0");
  EXPECT_EQ(drives[1], "file=/b.img,format=raw,if=virtio,id=disk1,readonly=on");
  EXPECT_EQ(CountOf(*argv, "-initrd"), 0u);
}

TEST(QemuCommandTest, PortForwardsMakeOneUserNic) {
  QemuVm vm;
  vm.kernel = "k";
  vm.hostfwd = {{2222, 22}, {8080, 80}};
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-netdev"),
            "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80");
  EXPECT_EQ(After(*argv, "-device"), "virtio-net-pci,netdev=net0");
  EXPECT_EQ(CountOf(*argv, "-nic"), 0u);
}

TEST(QemuCommandTest, MicrovmUnderTcgGetsTheTscFrequency) {
  QemuVm vm;
  vm.kernel = "k";
  vm.machine = "microvm";
  EXPECT_NE(BaseKernelArgs(vm).find("tsc_early_khz="), std::string::npos);
  vm.accel = "kvm";
  EXPECT_EQ(BaseKernelArgs(vm).find("tsc_early_khz="), std::string::npos);
  vm.machine = "q35";
  vm.accel = "tcg";
  EXPECT_EQ(BaseKernelArgs(vm).find("tsc_early_khz="), std::string::npos);
}

TEST(QemuCommandTest, InvalidFieldsAreNamed) {
  auto err = [](auto edit) {
    QemuVm vm;
    vm.kernel = "k";
    edit(vm);
    auto argv = QemuArgv(vm);
    return argv.ok() ? std::string() : argv.error().str();
  };
  EXPECT_NE(err([](QemuVm& v) { v.kernel.clear(); }).find("no kernel"), std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.accel = "hvf"; }).find("accel \"hvf\""), std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.machine = "pc"; }).find("machine \"pc\""), std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.memory_mb = 1; }).find("memory 1 MiB"), std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.cpus = 0; }).find("cpus 0"), std::string::npos);
  EXPECT_NE(err([](QemuVm& v) {
              v.disks = {{"/a,b.img", false}};
            }).find("comma"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.hostfwd = {{0, 22}}; }).find("out of range"), std::string::npos);
}

// Every -device value, in order.
std::vector<std::string> Devices(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == "-device") out.push_back(argv[i + 1]);
  return out;
}

bool Has(const std::vector<std::string>& argv, std::string_view value) {
  return std::find(argv.begin(), argv.end(), value) != argv.end();
}

std::string ErrorOf(const QemuVm& vm) {
  auto argv = QemuArgv(vm);
  return argv.ok() ? std::string() : argv.error().str();
}

TEST(QemuCommandTest, FdDisksGoThroughFdsetsWithSerials) {
  QemuVm vm;
  vm.kernel = "k";
  vm.fd_disks = {{7, true, "initos-rootfs"}, {9, false, "initos-state"}, {12, true, ""}};
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(CountOf(*argv, "-add-fd"), 3u);
  EXPECT_TRUE(Has(*argv, "fd=7,set=1,opaque=fddisk0"));
  EXPECT_TRUE(Has(*argv, "fd=9,set=2,opaque=fddisk1"));
  EXPECT_TRUE(Has(*argv, "fd=12,set=3,opaque=fddisk2"));
  EXPECT_TRUE(Has(*argv, "file=/dev/fdset/1,format=raw,if=none,id=fddisk0,readonly=on"));
  EXPECT_TRUE(Has(*argv,
                  "file=/dev/fdset/2,format=raw,if=none,id=fddisk1,readonly=off,"
                  "auto-read-only=off"));
  EXPECT_EQ(Devices(*argv),
            (std::vector<std::string>{"virtio-blk-pci,drive=fddisk0,serial=initos-rootfs",
                                      "virtio-blk-pci,drive=fddisk1,serial=initos-state",
                                      "virtio-blk-pci,drive=fddisk2"}));
  // The -add-fd comes before the -drive that names its set.
  auto add = std::find(argv->begin(), argv->end(), "fd=7,set=1,opaque=fddisk0");
  auto drive = std::find(argv->begin(), argv->end(),
                         "file=/dev/fdset/1,format=raw,if=none,id=fddisk0,readonly=on");
  EXPECT_LT(add, drive);
}

TEST(QemuCommandTest, MicrovmGetsVirtioMmioDevices) {
  QemuVm vm;
  vm.kernel = "k";
  vm.machine = "microvm";
  vm.disks = {{"/a.img", true}};
  vm.fd_disks = {{7, true, "s"}};
  vm.user_net = true;
  vm.vhost_vsock_fd = 5;
  vm.guest_cid = 3;
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  // microvm has no PCI bus: if=virtio would ask for virtio-blk-pci.
  EXPECT_TRUE(Has(*argv, "file=/a.img,format=raw,if=none,id=disk0,readonly=on"));
  EXPECT_EQ(Devices(*argv),
            (std::vector<std::string>{
                "virtio-blk-device,drive=disk0", "virtio-blk-device,drive=fddisk0,serial=s",
                "virtio-net-device,netdev=net0", "vhost-vsock-device,guest-cid=3,vhostfd=5"}));
}

TEST(QemuCommandTest, QmpOnAnInheritedSocket) {
  QemuVm vm;
  vm.kernel = "k";
  vm.qmp_fd = 11;
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(After(*argv, "-chardev"), "socket,id=qmp,fd=11");
  EXPECT_EQ(After(*argv, "-mon"), "chardev=qmp,mode=control");
  EXPECT_EQ(After(*argv, "-monitor"), "none");  // no human monitor anywhere
  vm.qmp_fd = -1;
  EXPECT_EQ(CountOf(*QemuArgv(vm), "-mon"), 0u);
}

TEST(QemuCommandTest, VhostVsockWithFdAndCid) {
  QemuVm vm;
  vm.kernel = "k";
  vm.vhost_vsock_fd = 8;
  vm.guest_cid = 1234;
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(Devices(*argv), (std::vector<std::string>{"vhost-vsock-pci,guest-cid=1234,vhostfd=8"}));
}

TEST(QemuCommandTest, OneNicAtMost) {
  QemuVm vm;
  vm.kernel = "k";
  vm.tap_fd = 6;
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(After(*argv, "-netdev"), "tap,id=net0,fd=6");
  EXPECT_EQ(Devices(*argv), (std::vector<std::string>{"virtio-net-pci,netdev=net0"}));
  EXPECT_EQ(CountOf(*argv, "-nic"), 0u);
  vm.tap_fd = -1;
  vm.user_net = true;
  argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-netdev"), "user,id=net0");  // no hostfwd: nothing reaches in
  vm.tap_fd = 6;
  EXPECT_NE(ErrorOf(vm).find("one network at most"), std::string::npos);
  vm.tap_fd = -1;
  vm.hostfwd = {{2222, 22}};
  EXPECT_NE(ErrorOf(vm).find("one network at most"), std::string::npos);
  vm.user_net = false;
  vm.tap_fd = -5;
  vm.hostfwd.clear();
  EXPECT_NE(ErrorOf(vm).find("tap fd -5 is not an fd"), std::string::npos);
}

TEST(QemuCommandTest, VfioDevicesOnQ35Only) {
  QemuVm vm;
  vm.kernel = "k";
  vm.vfio_devices = {"0000:01:00.0", "0000:02:1f.7"};
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(Devices(*argv),
            (std::vector<std::string>{"vfio-pci,host=0000:01:00.0", "vfio-pci,host=0000:02:1f.7"}));
  vm.machine = "microvm";
  EXPECT_NE(ErrorOf(vm).find("VFIO passthrough needs machine q35"), std::string::npos);
  vm.machine = "q35";
  for (const char* bad : {"01:00.0", "0000:01:00.0,x-foo=1", "0000:0A:00.0", "0000:01:20.0", ""}) {
    vm.vfio_devices = {bad};
    EXPECT_NE(ErrorOf(vm).find("is not a PCI address"), std::string::npos) << bad;
  }
}

TEST(QemuCommandTest, PanicExitSandboxNoDefaultsAndConsole) {
  QemuVm vm;
  vm.kernel = "k";
  auto plain = QemuArgv(vm);
  ASSERT_TRUE(plain.ok());
  for (const char* flag : {"-action", "-sandbox", "-nodefaults", "-chardev"})
    EXPECT_EQ(CountOf(*plain, flag), 0u) << flag;
  vm.panic_exits = true;
  vm.sandbox = true;
  vm.no_defaults = true;
  vm.console_signals = false;
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(Devices(*argv), (std::vector<std::string>{"pvpanic"}));
  EXPECT_EQ(After(*argv, "-action"), "panic=exit-failure");
  EXPECT_EQ(After(*argv, "-sandbox"),
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  EXPECT_EQ(CountOf(*argv, "-nodefaults"), 1u);
  EXPECT_EQ(CountOf(*argv, "-nic"), 0u);  // -nodefaults already has no NIC
  EXPECT_EQ(After(*argv, "-chardev"), "stdio,id=console,signal=off");
  EXPECT_EQ(After(*argv, "-serial"), "chardev:console");
  EXPECT_EQ(CountOf(*argv, "-no-reboot"), 1u);
}

TEST(QemuCommandTest, InvalidFdOptionsAreNamed) {
  auto err = [](auto edit) {
    QemuVm vm;
    vm.kernel = "k";
    edit(vm);
    return ErrorOf(vm);
  };
  EXPECT_NE(err([](QemuVm& v) {
              v.fd_disks = {{-1, true, "a"}};
            }).find("fd disk 1 has no fd"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) {
              v.fd_disks = {{3, true, "a"}, {4, true, std::string(21, 'a')}};
            }).find("fd disk 2 serial"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) {
              v.fd_disks = {{3, true, "a,b"}};
            }).find("may hold only letters"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.qmp_fd = -2; }).find("qmp fd -2"), std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.guest_cid = 3; }).find("without a vhost-vsock fd"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.vhost_vsock_fd = 4; }).find("guest CID 0 is reserved"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) {
              v.vhost_vsock_fd = 4;
              v.guest_cid = 2;
            }).find("guest CID 2 is reserved"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) {
              v.vhost_vsock_fd = 4;
              v.guest_cid = UINT32_MAX;
            }).find("is reserved"),
            std::string::npos);
  EXPECT_NE(err([](QemuVm& v) { v.vhost_vsock_fd = -3; }).find("vhost-vsock fd -3"),
            std::string::npos);
}

}  // namespace

TEST(QemuCommandTest, FirmwareBootHasPflashAndNoKernel) {
  QemuVm vm;
  vm.firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
  vm.firmware_vars = "/tmp/vars.fd";
  vm.secure_boot = true;
  vm.tpm_socket = "/tmp/swtpm.sock";
  vm.disks.push_back({"/tmp/esp.img", false});
  auto argv = QemuArgv(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().str();
  EXPECT_EQ(CountOf(*argv, "-kernel"), 0u);
  EXPECT_EQ(CountOf(*argv, "-append"), 0u);
  EXPECT_EQ(After(*argv, "-M"), "q35,smm=on");
  EXPECT_EQ(After(*argv, "-global"), "driver=cfi.pflash01,property=secure,value=on");
  EXPECT_EQ(CountOf(*argv,
                    "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/"
                    "OVMF_CODE_4M.secboot.fd"),
            1u);
  EXPECT_EQ(CountOf(*argv, "if=pflash,format=raw,unit=1,file=/tmp/vars.fd"), 1u);
  EXPECT_EQ(After(*argv, "-chardev"), "socket,id=chrtpm,path=/tmp/swtpm.sock");
  EXPECT_EQ(After(*argv, "-tpmdev"), "emulator,id=tpm0,chardev=chrtpm");
  EXPECT_EQ(CountOf(*argv, "tpm-tis,tpmdev=tpm0"), 1u);
}

TEST(QemuCommandTest, FirmwareCombinationsAreChecked) {
  QemuVm none;
  EXPECT_FALSE(QemuArgv(none).ok());  // neither kernel nor firmware
  QemuVm code_only;
  code_only.firmware_code = "c";
  EXPECT_FALSE(QemuArgv(code_only).ok());
  QemuVm sb_without_firmware;
  sb_without_firmware.kernel = "k";
  sb_without_firmware.secure_boot = true;
  EXPECT_FALSE(QemuArgv(sb_without_firmware).ok());
  QemuVm sb_microvm;
  sb_microvm.firmware_code = "c";
  sb_microvm.firmware_vars = "v";
  sb_microvm.machine = "microvm";
  sb_microvm.secure_boot = true;
  EXPECT_FALSE(QemuArgv(sb_microvm).ok());
  QemuVm initrd_without_kernel;
  initrd_without_kernel.firmware_code = "c";
  initrd_without_kernel.firmware_vars = "v";
  initrd_without_kernel.initramfs = "i";
  EXPECT_FALSE(QemuArgv(initrd_without_kernel).ok());
  QemuVm comma;
  comma.firmware_code = "c,x";
  comma.firmware_vars = "v";
  EXPECT_FALSE(QemuArgv(comma).ok());
}

}  // namespace initos
