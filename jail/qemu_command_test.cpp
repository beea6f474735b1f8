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
