// What a VM jail's QEMU does when its guest ends (jail/vm_argv.h): a
// poweroff exits 0, a kernel panic exits with a failure through pvpanic
// and -action panic=exit-failure, on both machines, so the supervisor's
// restart policy sees a crash as a crash. The guest needs its pvpanic
// driver for that (Debian's cloud kernel: pvpanic.ko + pvpanic-mmio.ko,
// which binds the QEMU0001 device both machines describe in ACPI); without
// it a panic reboots, and -no-reboot turns that into exit 0.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "jail/qemu_command.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

// Boots a busybox guest that (optionally) loads the pvpanic driver, then
// runs `action`; returns QEMU's exit status, or -1 with the log in `log`.
int BootAndEnd(const std::string& machine, bool driver, const std::string& action,
               std::string& log) {
  std::string dir = TestWorkDir() + "/" + machine + (driver ? "-driver" : "-nodriver");
  fs::create_directories(dir);
  std::string mods =
      "/lib/modules/" + KernelVersion(FindKernel()) + "/kernel/drivers/misc/pvpanic/";
  std::vector<std::pair<std::string, std::string>> texts;
  std::string init =
      "#!/bin/busybox sh\n/bin/busybox mkdir -p /proc\n/bin/busybox mount -t proc proc /proc\n";
  if (driver) {
    for (const char* m : {"pvpanic.ko", "pvpanic-mmio.ko"}) {
      auto ko = ReadFileToString(mods + m);
      if (!ko.ok()) {
        log = ko.error().str();
        return -1;
      }
      texts.push_back({*ko, std::string("/") + m});
      init += std::string("/bin/busybox insmod /") + m + "\n";
    }
  }
  // Should the action not end the guest, QEMU is killed by the timeout
  // (status 137) rather than ending some other way.
  init += "echo GUEST-ENDING\n" + action + "\nexec /bin/busybox sleep 600\n";
  auto img = BuildBusyboxInitramfs(init, texts, dir);
  if (!img.ok()) {
    log = img.error().str();
    return -1;
  }
  QemuVm vm;
  vm.accel = Accel();
  vm.machine = machine;
  vm.memory_mb = 256;
  vm.kernel = FindKernel();
  vm.initramfs = *img;
  vm.append = "quiet";
  vm.panic_exits = true;
  vm.no_defaults = true;
  vm.sandbox = true;
  vm.console_signals = false;
  auto argv = QemuArgv(vm);
  if (!argv.ok()) {
    log = argv.error().str();
    return -1;
  }
  argv->insert(argv->begin(), {"timeout", "-s", "KILL", "120"});
  auto [code, out] = RunCapture(*argv);
  log = out;
  return code;
}

TEST(VmPanic, PoweroffExitsZeroPanicExitsWithAFailure) {
  INITOS_REQUIRE_QEMU();
  std::string log;
  for (const std::string machine : {"microvm", "q35"}) {
    EXPECT_EQ(BootAndEnd(machine, true, "echo c > /proc/sysrq-trigger", log), 1)
        << machine << ": a panic with the guest's pvpanic driver\n"
        << log;
    EXPECT_NE(log.find("GUEST-ENDING"), std::string::npos) << log;
    EXPECT_NE(log.find("Kernel panic - not syncing: sysrq triggered crash"), std::string::npos)
        << log;
  }
  EXPECT_EQ(BootAndEnd("microvm", true, "/bin/busybox poweroff -f", log), 0) << log;
  EXPECT_NE(log.find("reboot: Power down"), std::string::npos) << log;
  // Without the driver the panic reboots: -no-reboot makes that exit 0,
  // which is why initos in the guest must load pvpanic (issue 11).
  EXPECT_EQ(BootAndEnd("microvm", false, "echo c > /proc/sysrq-trigger", log), 0) << log;
  EXPECT_NE(log.find("Kernel panic - not syncing: sysrq triggered crash"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace initos::qemu
