// The one QEMU command-line builder: a VM description in, qemu-system-x86_64
// argv out. Pure (no syscalls), so every option and combination is unit
// tested; the QEMU test harness, the benchmarks and VM jails (issue 11,
// jail/vm_argv.h) boot through it.
//
// Devices: q35 gets the PCI forms (virtio-*-pci), microvm the virtio-mmio
// forms (virtio-*-device): microvm has no PCI bus (pcie=off, its default).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

struct QemuDisk {
  std::string path;
  bool read_only = false;
};

// A raw disk QEMU gets as an inherited fd, never a path: a VM jail's QEMU
// runs as an unprivileged uid in its own mount namespace, where the image
// is not reachable by name. `-add-fd` puts the fd in an fdset QEMU dups
// from (its access mode must match: O_RDONLY for read_only, else O_RDWR).
struct QemuFdDisk {
  int fd = -1;
  bool read_only = true;
  // The guest's /sys/block/vdX/serial (how initos in the guest finds its
  // disks, format/vm_channel.h kVmRootfsSerial): 1..20 of [A-Za-z0-9._-],
  // or "" for none.
  std::string serial;
  // The fd is a block device (a bundle on a partition): QEMU's `file`
  // driver refuses those, its `host_device` driver refuses anything else.
  bool block_device = false;
};

struct QemuVm {
  std::string binary = "qemu-system-x86_64";
  std::string accel = "tcg";    // "tcg" or "kvm"
  std::string machine = "q35";  // "q35" or "microvm"
  int memory_mb = 512;
  int cpus = 1;
  std::string kernel;           // required unless firmware_code is set
  std::string initramfs;        // "" = none
  std::string append;           // kernel arguments after the console ones
  std::vector<QemuDisk> disks;  // raw images, virtio-blk, in order (vda, vdb, ...)
  // Host TCP port -> guest TCP port over user networking; empty = no NIC.
  std::vector<std::pair<int, int>> hostfwd;
  // Serial console on QEMU's stdio (the harness reads it), no monitor, and
  // QEMU exits instead of rebooting, so a guest reboot or panic ends the run.
  bool no_reboot = true;
  // EFI boot: OVMF code (read-only pflash) and the writable variables file
  // (a copy per VM: the firmware writes it). With firmware and no kernel the
  // firmware boots from the disks (EFI/BOOT/BOOTX64.EFI on an ESP).
  std::string firmware_code;
  std::string firmware_vars;
  // OVMF's Secure Boot build needs SMM and a secure pflash, or it refuses to
  // start (q35 only): without SMM the guest could rewrite the variables.
  bool secure_boot = false;
  // Control socket of a running swtpm: the guest gets a TPM 2.0 (tpm-tis).
  std::string tpm_socket;

  // ---- VM jails (issue 11): everything as inherited fds ----
  std::vector<QemuFdDisk> fd_disks;  // after `disks`, in order; fdsets 1, 2, ...
  // A connected stream socket (a socketpair end): QMP on it.
  int qmp_fd = -1;
  // An open /dev/vhost-vsock and the guest's CID (3..0xfffffffe): virtio
  // vsock. The CID must be unique on the host (the kernel refuses a second).
  int vhost_vsock_fd = -1;
  uint32_t guest_cid = 0;
  // One NIC at most: hostfwd (above), user_net (QEMU's user network, no
  // port forwards) or tap_fd (an open tap device, jail/tap.h).
  bool user_net = false;
  int tap_fd = -1;
  // PCI addresses ("0000:01:00.0") bound to vfio-pci on the host, handed
  // to the guest (q35 only: microvm has no PCI bus).
  std::vector<std::string> vfio_devices;
  // A guest panic makes QEMU exit with a failure status (pvpanic +
  // -action panic=exit-failure) instead of rebooting (= exit 0 with
  // no_reboot); the guest kernel needs its pvpanic driver for this.
  bool panic_exits = false;
  // QEMU's seccomp filter with spawning, privilege elevation and resource
  // control denied (-sandbox on,...).
  bool sandbox = false;
  // -nodefaults: no default VGA, NIC, CD-ROM, floppy or parallel port.
  bool no_defaults = false;
  // With false, ^C and ^\ typed on the console go to the guest instead of
  // signalling QEMU (a jail's console is a pty an admin attaches to).
  bool console_signals = true;
};

// The argv (argv[0] = binary). Errors name the bad field: a missing kernel,
// a memory size or CPU count out of range, an unknown machine or accel, a
// negative fd, two NICs, VFIO on microvm, a bad serial, CID or PCI address.
Result<std::vector<std::string>> QemuArgv(const QemuVm& vm);

// The kernel arguments every boot starts with: serial console, and a panic
// ends the run at once (with no_reboot, QEMU exits). microvm under TCG also
// gets tsc_early_khz: without it the kernel can hang calibrating the TSC.
std::string BaseKernelArgs(const QemuVm& vm);

}  // namespace jail
}  // namespace initos
