#include "jail/qemu_command.h"

namespace initos {
inline namespace jail {

std::string BaseKernelArgs(const QemuVm& vm) {
  std::string args = "console=ttyS0 panic=-1";
  if (vm.machine == "microvm" && vm.accel == "tcg") args += " tsc_early_khz=2000000";
  return args;
}

namespace {

Result<void> CheckPath(std::string_view what, const std::string& path) {
  if (path.find(',') != std::string::npos)
    return Err() << "qemu: " << what << " path \"" << path
                 << "\" contains a comma (QEMU's option separator)";
  return {};
}

Result<void> AddFirmware(const QemuVm& vm, std::vector<std::string>& a) {
  if (!vm.firmware_code.empty()) {
    INITOS_TRY(CheckPath("firmware", vm.firmware_code));
    INITOS_TRY(CheckPath("firmware variables", vm.firmware_vars));
    if (vm.secure_boot)
      a.insert(a.end(), {"-global", "driver=cfi.pflash01,property=secure,value=on"});
    a.insert(a.end(), {"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + vm.firmware_code,
                       "-drive", "if=pflash,format=raw,unit=1,file=" + vm.firmware_vars});
  }
  if (!vm.tpm_socket.empty()) {
    INITOS_TRY(CheckPath("tpm socket", vm.tpm_socket));
    a.insert(a.end(), {"-chardev", "socket,id=chrtpm,path=" + vm.tpm_socket, "-tpmdev",
                       "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0"});
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> QemuArgv(const QemuVm& vm) {
  if (vm.kernel.empty() && vm.firmware_code.empty())
    return Err() << "qemu: no kernel image and no firmware given";
  if (vm.firmware_code.empty() != vm.firmware_vars.empty())
    return Err() << "qemu: firmware code and variables file go together; give both";
  if (vm.secure_boot && (vm.firmware_code.empty() || vm.machine != "q35"))
    return Err() << "qemu: secure boot needs firmware and machine q35";
  if (vm.kernel.empty() && (!vm.initramfs.empty() || !vm.append.empty()))
    return Err() << "qemu: initramfs and kernel arguments need a kernel";
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
                                vm.secure_boot ? vm.machine + ",smm=on" : vm.machine,
                                "-m",
                                std::to_string(vm.memory_mb),
                                "-smp",
                                std::to_string(vm.cpus),
                                "-nographic",
                                "-monitor",
                                "none",
                                "-serial",
                                "stdio"};
  if (vm.no_reboot) a.push_back("-no-reboot");
  INITOS_TRY(AddFirmware(vm, a));
  if (!vm.kernel.empty()) {
    a.insert(a.end(), {"-kernel", vm.kernel});
    if (!vm.initramfs.empty()) a.insert(a.end(), {"-initrd", vm.initramfs});
    std::string append = BaseKernelArgs(vm);
    if (!vm.append.empty()) append += " " + vm.append;
    a.insert(a.end(), {"-append", append});
  }
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
