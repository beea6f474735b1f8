// Starting and stopping one VM jail (kind = "vm", docs/vm-jails.md): the
// supervisor (jail/supervisor.h) calls StartVm and then watches QEMU's pidfd
// and its QMP socket, as it watches a container's PID 1.
//
//   hook prepare_vm_rootfs: the bundle opened read-only and verified in
//     full on the host (signature, name, floor, every block): a tampered
//     bundle never reaches QEMU
//   accelerator: KVM when it really works (jail/kvm_probe.h), else TCG
//   kernel -> sealed memfd; guest initramfs (jail/vm_guest.h) -> sealed memfd
//   /dev/vhost-vsock (vsock = true), state disk, QMP socketpair
//   QEMU argv (jail/vm_argv.h), every resource an inherited fd
//   QEMU confined (jail/vm_sandbox.h); QMP handshake; one log line
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"
#include "jail/qmp.h"

namespace initos {
inline namespace jail {

// The jail's bundle as the host verified it (JailHooks::prepare_vm_rootfs).
struct VmRootfs {
  std::shared_ptr<unique_fd> bundle_fd;  // O_RDONLY|O_CLOEXEC
  uint64_t version = 0;                  // of the verified manifest
  uint64_t floor = 0;                    // the version floor it was held to
  std::vector<std::string> key_paths;    // trusted keys (the guest checks again)
};

struct VmSpec {
  JailConfig config;
  VmRootfs rootfs;
  uint32_t host_id = 0;  // QEMU's unprivileged host uid/gid: the jail range's first id
  std::string cgroup_parent;
  int console_fd = -1;  // the jail's console pty slave: QEMU's serial console
  // The initos binary the guest's initramfs runs as /init (a sealed memfd
  // of it as "/proc/self/fd/N"; "" = /proc/self/exe).
  std::string initos_binary;
  std::string qemu_binary = "/usr/bin/qemu-system-x86_64";
};

struct StartedVm {
  pid_t pid = 0;
  unique_fd pidfd;
  std::unique_ptr<QmpClient> qmp;
  uint32_t cid = 0;  // vsock guest CID, 0 = no vsock
  std::string accel;
  std::string cgroup;
};

// Every step above; a failure leaves nothing running and names the step.
Result<StartedVm> StartVm(const VmSpec& spec);

// The first half of a stop: ACPI power button over QMP (the supervisor
// kills QEMU after the jail's stop timeout).
Result<void> RequestVmPowerdown(StartedVm& vm);

// After QEMU exited: removes its cgroup (killing leftovers).
void CleanUpVm(const VmSpec& spec, StartedVm& vm);

// The device nodes QEMU opens for VFIO passthrough of the PCI addresses
// `devices` (already bound to vfio-pci): /dev/vfio/vfio and /dev/vfio/GROUP
// of each device's IOMMU group (sys_root + /sys/bus/pci/devices/ADDR/
// iommu_group). Empty for no devices; an error names a device without an
// IOMMU group and the fix.
Result<std::vector<std::string>> VfioDeviceNodes(const std::vector<std::string>& devices,
                                                 const std::string& sys_root = "");

// The kernel the guest boots: jail.vm.kernel, else kDefaultVmKernel.
std::string VmKernelPath(const JailConfig& jail);

// "accel tcg (auto: no KVM ...), machine microvm, 2 cpus, 512M, vsock CID 7"
// (pure; the start log line).
std::string DescribeVmStart(const JailConfig& jail, const std::string& accel,
                            const std::string& accel_why, uint32_t cid);

}  // namespace jail
}  // namespace initos
