#include "jail/qemu_command.h"

#include <cctype>
#include <cstdint>

#include "format/jail_config.h"

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

// "virtio-blk" → virtio-blk-pci on q35, virtio-blk-device (mmio) on microvm.
std::string Virtio(const QemuVm& vm, std::string_view kind) {
  return std::string(kind) + (vm.machine == "microvm" ? "-device" : "-pci");
}

Result<void> AddDisks(const QemuVm& vm, std::vector<std::string>& a) {
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const QemuDisk& d = vm.disks[i];
    if (d.path.empty() || d.path.find(',') != std::string::npos)
      return Err() << "qemu: disk " << i + 1 << " path \"" << d.path
                   << "\" is empty or contains a comma (QEMU's option separator)";
    std::string id = "disk" + std::to_string(i);
    std::string drive = "file=" + d.path +
                        ",format=raw,if=" + (vm.machine == "microvm" ? "none" : "virtio") +
                        ",id=" + id;
    if (d.read_only) drive += ",readonly=on";
    a.insert(a.end(), {"-drive", drive});
    if (vm.machine == "microvm")
      a.insert(a.end(), {"-device", Virtio(vm, "virtio-blk") + ",drive=" + id});
  }
  for (size_t i = 0; i < vm.fd_disks.size(); ++i) {
    const QemuFdDisk& d = vm.fd_disks[i];
    if (d.fd < 0)
      return Err() << "qemu: fd disk " << i + 1 << " has no fd (" << d.fd
                   << "); open the image and pass its fd";
    if (d.serial.size() > 20)
      return Err() << "qemu: fd disk " << i + 1 << " serial \"" << d.serial
                   << "\" is longer than virtio-blk's 20 bytes";
    for (char c : d.serial)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        return Err() << "qemu: fd disk " << i + 1 << " serial \"" << d.serial
                     << "\" may hold only letters, digits, '.', '_' and '-'";
    std::string set = std::to_string(i + 1);
    std::string id = "fddisk" + std::to_string(i);
    // A writable drive is opened read-write at once (auto-read-only=off):
    // with the default, QEMU first asks the fdset for a read-only fd, and a
    // set holding only the O_RDWR fd refuses that.
    std::string drive = "file=/dev/fdset/" + set + ",format=raw," +
                        (d.block_device ? "file.driver=host_device," : "") + "if=none,id=" + id +
                        (d.read_only ? ",readonly=on" : ",readonly=off,auto-read-only=off");
    std::string device = Virtio(vm, "virtio-blk") + ",drive=" + id;
    if (!d.serial.empty()) device += ",serial=" + d.serial;
    a.insert(a.end(), {"-add-fd", "fd=" + std::to_string(d.fd) + ",set=" + set + ",opaque=" + id,
                       "-drive", drive, "-device", device});
  }
  return {};
}

Result<void> AddNetwork(const QemuVm& vm, std::vector<std::string>& a) {
  int nics = !vm.hostfwd.empty() + vm.user_net + (vm.tap_fd >= 0);
  if (nics > 1)
    return Err() << "qemu: give one network at most (hostfwd, user_net or tap_fd), not " << nics;
  if (vm.tap_fd < -1) return Err() << "qemu: tap fd " << vm.tap_fd << " is not an fd";
  std::string netdev;
  if (!vm.hostfwd.empty()) {
    netdev = "user,id=net0";
    for (auto [host, guest] : vm.hostfwd) {
      if (host < 1 || host > 65535 || guest < 1 || guest > 65535)
        return Err() << "qemu: port forward " << host << "->" << guest << " is out of range";
      netdev += ",hostfwd=tcp:127.0.0.1:" + std::to_string(host) + "-:" + std::to_string(guest);
    }
  } else if (vm.user_net) {
    netdev = "user,id=net0";
  } else if (vm.tap_fd >= 0) {
    // QEMU probes the tap's vnet header support itself (TUNGETIFF).
    netdev = "tap,id=net0,fd=" + std::to_string(vm.tap_fd);
  }
  if (netdev.empty()) {
    if (!vm.no_defaults) a.insert(a.end(), {"-nic", "none"});
    return {};
  }
  a.insert(a.end(), {"-netdev", netdev, "-device", Virtio(vm, "virtio-net") + ",netdev=net0"});
  return {};
}

Result<void> AddJailDevices(const QemuVm& vm, std::vector<std::string>& a) {
  if (vm.qmp_fd < -1) return Err() << "qemu: qmp fd " << vm.qmp_fd << " is not an fd";
  if (vm.qmp_fd >= 0)
    a.insert(a.end(), {"-chardev", "socket,id=qmp,fd=" + std::to_string(vm.qmp_fd), "-mon",
                       "chardev=qmp,mode=control"});
  if (vm.vhost_vsock_fd < -1)
    return Err() << "qemu: vhost-vsock fd " << vm.vhost_vsock_fd << " is not an fd";
  if (vm.vhost_vsock_fd >= 0 || vm.guest_cid != 0) {
    if (vm.vhost_vsock_fd < 0)
      return Err() << "qemu: guest CID " << vm.guest_cid
                   << " without a vhost-vsock fd; open /dev/vhost-vsock and pass it";
    // 0..2 are the hypervisor, local and host; UINT32_MAX is VMADDR_CID_ANY.
    if (vm.guest_cid < 3 || vm.guest_cid == UINT32_MAX)
      return Err() << "qemu: guest CID " << vm.guest_cid
                   << " is reserved; use 3..4294967294, unique on the host";
    a.insert(a.end(),
             {"-device", Virtio(vm, "vhost-vsock") + ",guest-cid=" + std::to_string(vm.guest_cid) +
                             ",vhostfd=" + std::to_string(vm.vhost_vsock_fd)});
  }
  if (!vm.vfio_devices.empty() && vm.machine != "q35")
    return Err() << "qemu: VFIO passthrough needs machine q35 (microvm has no PCI bus)";
  for (const std::string& d : vm.vfio_devices) {
    if (!ValidatePciAddress(d).ok())
      return Err() << "qemu: VFIO device \"" << d
                   << "\" is not a PCI address like \"0000:01:00.0\"";
    a.insert(a.end(), {"-device", "vfio-pci,host=" + d});
  }
  if (vm.panic_exits) a.insert(a.end(), {"-device", "pvpanic", "-action", "panic=exit-failure"});
  if (vm.sandbox)
    a.insert(a.end(), {"-sandbox",
                       "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
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
                                "-nographic"};
  if (vm.no_defaults) a.push_back("-nodefaults");
  a.insert(a.end(), {"-monitor", "none"});
  if (vm.console_signals)
    a.insert(a.end(), {"-serial", "stdio"});
  else
    a.insert(a.end(), {"-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"});
  if (vm.no_reboot) a.push_back("-no-reboot");
  INITOS_TRY(AddFirmware(vm, a));
  if (!vm.kernel.empty()) {
    a.insert(a.end(), {"-kernel", vm.kernel});
    if (!vm.initramfs.empty()) a.insert(a.end(), {"-initrd", vm.initramfs});
    std::string append = BaseKernelArgs(vm);
    if (!vm.append.empty()) append += " " + vm.append;
    a.insert(a.end(), {"-append", append});
  }
  INITOS_TRY(AddDisks(vm, a));
  INITOS_TRY(AddNetwork(vm, a));
  INITOS_TRY(AddJailDevices(vm, a));
  return a;
}

}  // namespace jail
}  // namespace initos
