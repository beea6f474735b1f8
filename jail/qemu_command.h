// The one QEMU command-line builder: a VM description in, qemu-system-x86_64
// argv out. Pure (no syscalls), so every option and combination is unit
// tested; the QEMU test harness and the benchmarks boot through it today,
// VM jails will (issue 11).
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
};

// The argv (argv[0] = binary). Errors name the bad field: a missing kernel,
// a memory size or CPU count out of range, an unknown machine or accel.
Result<std::vector<std::string>> QemuArgv(const QemuVm& vm);

// The kernel arguments every boot starts with: serial console, and a panic
// ends the run at once (with no_reboot, QEMU exits). microvm under TCG also
// gets tsc_early_khz: without it the kernel can hang calibrating the TSC.
std::string BaseKernelArgs(const QemuVm& vm);

}  // namespace jail
}  // namespace initos
