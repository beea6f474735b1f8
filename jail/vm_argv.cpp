#include "jail/vm_argv.h"

#include "format/vm_channel.h"

namespace initos {
inline namespace jail {
namespace {

Result<void> CheckResources(const JailConfig& j, const VmResources& r) {
  std::string at = "vm " + j.name + ": ";
  if (j.kind != JailKind::kVm) return Err() << at << "not a kind = \"vm\" jail";
  if (r.accel != "kvm" && r.accel != "tcg")
    return Err() << at << "accelerator \"" << r.accel << "\" is not resolved to kvm or tcg";
  if (j.vm.accel != "auto" && j.vm.accel != r.accel)
    return Err() << at << "the jail asks for accel " << j.vm.accel << ", not " << r.accel;
  if (r.kernel_path.empty() || r.initramfs_path.empty())
    return Err() << at << "no kernel or initramfs; the guest boots both from the supervisor";
  if (r.rootfs_fd < 0) return Err() << at << "no rootfs fd; open the verified bundle read-only";
  if (r.qmp_fd < 0) return Err() << at << "no QMP fd; the supervisor stops the VM through QMP";
  if (j.vm.state_disk.empty() != (r.state_disk_fd < 0))
    return Err() << at
                 << (r.state_disk_fd < 0 ? "state-disk is set but no fd was opened for it"
                                         : "a state disk fd without state-disk in the config");
  if (j.vm.vsock != (r.vhost_vsock_fd >= 0))
    return Err() << at
                 << (j.vm.vsock ? "vsock = true but no /dev/vhost-vsock fd"
                                : "a vhost-vsock fd with vsock = false");
  bool tap = j.network.kind == JailNetworkKind::kTap;
  if (tap != (r.tap_fd >= 0))
    return Err() << at
                 << (tap ? "network = \"tap\" but no tap fd"
                         : "a tap fd without network = \"tap\"");
  if (j.network.kind != JailNetworkKind::kNone && j.network.kind != JailNetworkKind::kUser && !tap)
    return Err() << at << "network \"" << JailNetworkKindName(j.network.kind)
                 << "\" is not a VM network";
  if (r.vfio_devices != j.devices)
    return Err() << at << "the VFIO devices handed over (" << r.vfio_devices.size()
                 << ") are not the jail's devices (" << j.devices.size() << ")";
  return {};
}

}  // namespace

Result<QemuVm> VmFromJail(const JailConfig& j, const VmResources& r) {
  INITOS_TRY(CheckResources(j, r));
  QemuVm vm;
  vm.accel = r.accel;
  vm.machine = j.vm.machine;
  vm.memory_mb = static_cast<int>(j.vm.memory >> 20);
  vm.cpus = j.vm.cpus;
  vm.kernel = r.kernel_path;
  vm.initramfs = r.initramfs_path;
  vm.append = r.guest_cmdline;
  for (const std::string& arg : j.vm.kernel_args) vm.append += (vm.append.empty() ? "" : " ") + arg;
  vm.fd_disks.push_back({r.rootfs_fd, true, kVmRootfsSerial, r.rootfs_block_device});
  if (r.state_disk_fd >= 0)
    vm.fd_disks.push_back({r.state_disk_fd, false, kVmStateSerial, r.state_disk_block_device});
  vm.qmp_fd = r.qmp_fd;
  vm.vhost_vsock_fd = r.vhost_vsock_fd;
  vm.guest_cid = r.guest_cid;
  vm.user_net = j.network.kind == JailNetworkKind::kUser;
  vm.tap_fd = r.tap_fd;
  vm.vfio_devices = r.vfio_devices;
  vm.no_reboot = true;
  vm.panic_exits = true;
  vm.sandbox = true;
  vm.no_defaults = true;
  vm.console_signals = false;
  return vm;
}

Result<std::vector<std::string>> VmJailArgv(const JailConfig& jail, const VmResources& res) {
  auto vm = VmFromJail(jail, res);
  if (!vm.ok()) return vm.error();
  auto argv = QemuArgv(*vm);
  if (!argv.ok()) return Err() << "vm " << jail.name << ": " << argv.error().str();
  return argv;
}

}  // namespace jail
}  // namespace initos
