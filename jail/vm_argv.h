// A VM jail's QEMU command line (issue 11, docs/vm-jails.md): the jail's
// config plus what the supervisor opened for it (fds, the resolved
// accelerator, the guest's kernel command line) in, the argv out. Pure: the
// supervisor (jail/vm.h) opens, verifies and spawns; everything here is
// unit tested option by option.
//
// The machine is always the same shape: serial console on QEMU's stdio
// (the jail's console pty and log ring, ^C goes to the guest), QMP on an
// inherited socket, no default devices, the rootfs bundle read-only as
// virtio-blk "initos-rootfs", a guest poweroff or reboot ends QEMU with 0
// and a guest panic with a failure (pvpanic), and QEMU's -sandbox on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/jail_config.h"
#include "jail/qemu_command.h"

namespace initos {
inline namespace jail {

struct VmResources {
  std::string accel;  // "kvm" or "tcg": jail.vm.accel resolved ("auto" probed)
  // What QEMU opens by name: sealed memfds as "/proc/self/fd/N" (a memfd
  // re-opens for any uid) or plain paths in tests.
  std::string kernel_path, initramfs_path;
  int rootfs_fd = -1;      // the verified bundle, O_RDONLY (required)
  int state_disk_fd = -1;  // jail.vm.state_disk, O_RDWR (required when set, else -1)
  // Which of the two is a block device (fstat; a bundle or state disk on a
  // partition): QEMU opens those with its host_device driver.
  bool rootfs_block_device = false, state_disk_block_device = false;
  int qmp_fd = -1;          // connected socketpair end (required)
  int vhost_vsock_fd = -1;  // /dev/vhost-vsock (required when jail.vm.vsock, else -1)
  uint32_t guest_cid = 0;   // with vhost_vsock_fd: 3..4294967294, unique on the host
  int tap_fd = -1;          // network = "tap" (required then, else -1)
  // PCI addresses bound to vfio-pci, exactly jail.devices (the supervisor
  // binds them first: jail/vfio.h).
  std::vector<std::string> vfio_devices;
  // The guest's kernel arguments from the supervisor (e.g. what initos in
  // the guest needs), between BaseKernelArgs and jail.vm.kernel_args.
  std::string guest_cmdline;
};

// The QemuVm of a kind = "vm" jail. Errors name the missing or mismatched
// resource (a fd the config needs, one it does not use, an accelerator
// other than the jail asks for): they are supervisor bugs, never config
// mistakes, which format/jail_check.cpp refuses at load.
Result<QemuVm> VmFromJail(const JailConfig& jail, const VmResources& res);

// QemuArgv(VmFromJail(...)).
Result<std::vector<std::string>> VmJailArgv(const JailConfig& jail, const VmResources& res);

}  // namespace jail
}  // namespace initos
