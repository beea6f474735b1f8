#include "jail/qemu_command.h"

namespace initos {
inline namespace jail {

std::string BaseKernelArgs(const QemuVm& vm) {
  std::string args = "console=ttyS0 panic=-1";
  if (vm.machine == "microvm" && vm.accel == "tcg") args += " tsc_early_khz=2000000";
  return args;
}

Result<std::vector<std::string>> QemuArgv(const QemuVm& vm) {
  if (vm.kernel.empty()) return Err() << "qemu: no kernel image given";
  if (vm.accel != "tcg" && vm.accel != "kvm")
    return Err() << "qemu: accel \"" << vm.accel << "\" is not tcg or kvm";
  if (vm.machine != "q35" && vm.machine != "microvm")
    return Err() << "qemu: machine \"" << vm.machine << "\" is not q35 or microvm";
  if (vm.memory_mb < 64 || vm.memory_mb > 1024 * 1024)
    return Err() << "qemu: memory " << vm.memory_mb << " MiB is out of range (64..1048576)";
  if (vm.cpus < 1 || vm.cpus > 256)
    return Err() << "qemu: cpus " << vm.cpus << " is out of range (1..256)";
  std::vector<std::string> a = {vm.binary,
                                "-accel",
                                vm.accel,
                                "-M",
                                vm.machine,
                                "-m",
                                std::to_string(vm.memory_mb),
                                "-smp",
                                std::to_string(vm.cpus),
                                "-nographic",
                                "-monitor",
                                "none",
                                "-serial",
                                "stdio",
                                "-kernel",
                                vm.kernel};
  if (vm.no_reboot) a.push_back("-no-reboot");
  if (!vm.initramfs.empty()) a.insert(a.end(), {"-initrd", vm.initramfs});
  std::string append = BaseKernelArgs(vm);
  if (!vm.append.empty()) append += " " + vm.append;
  a.insert(a.end(), {"-append", append});
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const QemuDisk& d = vm.disks[i];
    if (d.path.empty() || d.path.find(',') != std::string::npos)
      return Err() << "qemu: disk " << i + 1 << " path \"" << d.path
                   << "\" is empty or contains a comma (QEMU's option separator)";
    std::string drive = "file=" + d.path + ",format=raw,if=virtio,id=disk" + std::to_string(i);
    if (d.read_only) drive += ",readonly=on";
    a.insert(a.end(), {"-drive", drive});
  }
  if (vm.hostfwd.empty()) {
    a.insert(a.end(), {"-nic", "none"});
  } else {
    std::string netdev = "user,id=net0";
    for (auto [host, guest] : vm.hostfwd) {
      if (host < 1 || host > 65535 || guest < 1 || guest > 65535)
        return Err() << "qemu: port forward " << host << "->" << guest << " is out of range";
      netdev += ",hostfwd=tcp:127.0.0.1:" + std::to_string(host) + "-:" + std::to_string(guest);
    }
    a.insert(a.end(), {"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"});
  }
  return a;
}

}  // namespace jail
}  // namespace initos
