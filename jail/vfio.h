// VFIO PCI passthrough for VM jails (issue 11): the host hands the devices
// named in a jail's `devices` to vfio-pci so that QEMU can give them to the
// guest and the host keeps no driver on them.
//
// Hardware: an IOMMU, enabled (intel_iommu=on on Intel; AMD's is on by
// default, amd_iommu=on on older kernels), so that every device has an IOMMU
// group (/sys/bus/pci/devices/ADDR/iommu_group). VFIO gives a VM a whole
// group: every device of the group must be named in `devices` (or already be
// on vfio-pci), else the guest could reach a device nobody asked for.
//
// Split as everywhere: ReadVfioDevice reads a snapshot of sysfs, PlanVfioBind
// (pure) checks it and returns the ordered writes, ApplyVfioPlan performs
// them, CheckVfioBound verifies the outcome. The roots are injected so the
// unit tests run it all on a fake sysfs tree.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

inline constexpr const char* kVfioPciDriver = "vfio-pci";

// "DDDD:BB:DD.F" in lowercase hex, as sysfs spells it (0000:00:03.0).
bool IsPciAddress(std::string_view address);

struct PciDriverState {
  std::string address;
  std::string driver;  // "" = no driver bound
  bool operator==(const PciDriverState&) const = default;
};

// What sysfs says about one device to be passed through.
struct VfioDevice {
  std::string address;
  std::string driver;                         // "" = no driver bound
  std::optional<int> iommu_group;             // nullopt: no IOMMU group (IOMMU off)
  std::vector<PciDriverState> group_members;  // every device of the group, itself included
};

struct VfioSysfsView {
  std::vector<VfioDevice> devices;
  bool vfio_pci_loaded = false;  // SYS/bus/pci/drivers/vfio-pci exists
};

// One write to a sysfs file (path relative to the sysfs root, "bus/pci/...").
struct VfioWrite {
  std::string file;
  std::string value;
  bool operator==(const VfioWrite&) const = default;
};

struct VfioPlan {
  std::vector<VfioWrite> writes;  // in this order
  std::vector<int> groups;        // DEV/vfio/N must exist afterwards (sorted)
  std::vector<std::string> addresses;
};

// Checks the view (every device a PCI address with an IOMMU group; every
// member of those groups named or already on vfio-pci; vfio-pci loaded) and
// returns, per device not yet on vfio-pci: unbind from its driver, set
// driver_override to vfio-pci, bind to vfio-pci. A device already on
// vfio-pci only gets driver_override (so a later re-probe keeps it there).
// Refusals are one line each, naming the fix.
Result<VfioPlan> PlanVfioBind(const VfioSysfsView& view);

struct VfioRoots {
  std::string sys = "/sys";
  std::string dev = "/dev";
};

// Reads the snapshot for `addresses` from roots.sys.
Result<VfioSysfsView> ReadVfioView(const std::vector<std::string>& addresses,
                                   const VfioRoots& roots = {});

// Performs the writes (each file opened without O_CREAT: a missing sysfs
// file is an error, not a new file).
Result<void> ApplyVfioPlan(const VfioPlan& plan, const VfioRoots& roots = {});

// After the writes: every device's driver link names vfio-pci and DEV/vfio/N
// exists for every group.
Result<void> CheckVfioBound(const VfioPlan& plan, const VfioRoots& roots = {});

// ReadVfioView + PlanVfioBind + ApplyVfioPlan + CheckVfioBound. Returns the
// plan: its groups are the /dev/vfio/N nodes QEMU needs, besides
// /dev/vfio/vfio. QEMU (7.2 takes no group fd) opens them itself as its
// unprivileged uid, so the sandbox gives it the nodes (jail/vm_sandbox
// chowns a group node to QEMU's uid); VFIO also pins all guest memory, so
// QEMU's RLIMIT_MEMLOCK must cover the guest's memory plus some MiB.
Result<VfioPlan> BindToVfio(const std::vector<std::string>& addresses, const VfioRoots& roots = {});

}  // namespace jail
}  // namespace initos
