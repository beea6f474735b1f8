#include "jail/vfio.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "base/file.h"

namespace initos {
inline namespace jail {
namespace {

bool LowerHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// The last component of a symlink's target ("../../bus/pci/drivers/e1000" →
// "e1000"); "" when there is no link; an error for anything else.
Result<std::string> LinkBasename(const std::string& link) {
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0 && errno == ENOENT) return std::string();
  if (n < 0) return ErrnoError() << "readlink " << link;
  std::string target(buf, static_cast<size_t>(n));
  while (!target.empty() && target.back() == '/') target.pop_back();
  return target.substr(target.rfind('/') + 1);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string DescribeDriver(const std::string& driver) {
  return driver.empty() ? "no driver" : "driver " + driver;
}

bool SafeDriverName(const std::string& d) {
  return !d.empty() && d != "." && d != ".." && d.find('/') == std::string::npos;
}

}  // namespace

bool IsPciAddress(std::string_view a) {
  // DOMAIN:BB:DD.F; sysfs prints the domain with at least 4 digits.
  size_t c1 = a.find(':');
  if (c1 == std::string_view::npos || c1 < 4 || c1 > 8) return false;
  std::string_view rest = a.substr(c1 + 1);
  if (rest.size() != 7 || rest[2] != ':' || rest[5] != '.') return false;
  return LowerHex(a.substr(0, c1)) && LowerHex(rest.substr(0, 2)) && LowerHex(rest.substr(3, 2)) &&
         rest[6] >= '0' && rest[6] <= '7';
}

Result<VfioPlan> PlanVfioBind(const VfioSysfsView& view) {
  if (view.devices.empty()) return Err() << "vfio: no PCI devices to pass through";
  std::set<std::string> named;
  for (const VfioDevice& d : view.devices) {
    if (!IsPciAddress(d.address))
      return Err() << "devices: \"" << d.address
                   << "\" is not a PCI address; write it as in /sys/bus/pci/devices "
                      "(DDDD:BB:DD.F, e.g. 0000:03:00.0)";
    if (!named.insert(d.address).second)
      return Err() << "devices: PCI device " << d.address << " is named twice";
  }
  if (!view.vfio_pci_loaded)
    return Err() << "vfio: the vfio-pci driver is not loaded (no /sys/bus/pci/drivers/vfio-pci); "
                    "load it: modprobe vfio-pci";
  VfioPlan plan;
  std::set<int> groups;
  for (const VfioDevice& d : view.devices) {
    if (!d.iommu_group)
      return Err() << "vfio: PCI device " << d.address
                   << " has no IOMMU group: the IOMMU is off; enable VT-d/AMD-Vi in the "
                      "firmware and boot the host with intel_iommu=on (Intel) or amd_iommu=on "
                      "(AMD)";
    for (const PciDriverState& m : d.group_members) {
      if (named.count(m.address) || m.driver == kVfioPciDriver) continue;
      return Err() << "vfio: PCI device " << d.address << " shares IOMMU group " << *d.iommu_group
                   << " with " << m.address << " (" << DescribeDriver(m.driver)
                   << "), which is not in devices; name every device of the group (ls "
                      "/sys/kernel/iommu_groups/"
                   << *d.iommu_group << "/devices) or bind it to vfio-pci";
    }
    groups.insert(*d.iommu_group);
  }
  for (const VfioDevice& d : view.devices) {
    const std::string dev = "bus/pci/devices/" + d.address;
    bool on_vfio = d.driver == kVfioPciDriver;
    if (!on_vfio && !d.driver.empty()) {
      if (!SafeDriverName(d.driver))
        return Err() << "vfio: PCI device " << d.address << ": odd driver name \"" << d.driver
                     << "\"";
      plan.writes.push_back({"bus/pci/drivers/" + d.driver + "/unbind", d.address});
    }
    plan.writes.push_back({dev + "/driver_override", kVfioPciDriver});
    if (!on_vfio)
      plan.writes.push_back(
          {std::string("bus/pci/drivers/") + kVfioPciDriver + "/bind", d.address});
    plan.addresses.push_back(d.address);
  }
  plan.groups.assign(groups.begin(), groups.end());
  return plan;
}

Result<VfioSysfsView> ReadVfioView(const std::vector<std::string>& addresses,
                                   const VfioRoots& roots) {
  VfioSysfsView view;
  view.vfio_pci_loaded = Exists(roots.sys + "/bus/pci/drivers/" + kVfioPciDriver);
  for (const std::string& address : addresses) {
    VfioDevice d;
    d.address = address;
    // Never build a path from something that is not an address: the planner
    // refuses it with the right message.
    if (!IsPciAddress(address)) {
      view.devices.push_back(std::move(d));
      continue;
    }
    const std::string dev = roots.sys + "/bus/pci/devices/" + address;
    if (!Exists(dev))
      return Err() << "devices: no PCI device " << address << " on this host (ls " << roots.sys
                   << "/bus/pci/devices)";
    auto driver = LinkBasename(dev + "/driver");
    if (!driver.ok()) return driver.error();
    d.driver = *driver;
    auto group = LinkBasename(dev + "/iommu_group");
    if (!group.ok()) return group.error();
    if (!group->empty()) {
      int n = -1;
      auto [p, ec] = std::from_chars(group->data(), group->data() + group->size(), n);
      if (ec != std::errc() || p != group->data() + group->size() || n < 0)
        return Err() << "vfio: " << dev << "/iommu_group points to \"" << *group
                     << "\", not a group number";
      d.iommu_group = n;
      const std::string members = roots.sys + "/kernel/iommu_groups/" + *group + "/devices";
      DIR* dir = ::opendir(members.c_str());
      if (dir == nullptr) return ErrnoError() << "vfio: list " << members;
      while (dirent* e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        auto md = LinkBasename(members + "/" + name + "/driver");
        if (!md.ok()) {
          ::closedir(dir);
          return md.error();
        }
        d.group_members.push_back({name, *md});
      }
      ::closedir(dir);
      std::sort(d.group_members.begin(), d.group_members.end(),
                [](const auto& a, const auto& b) { return a.address < b.address; });
    }
    view.devices.push_back(std::move(d));
  }
  return view;
}

Result<void> ApplyVfioPlan(const VfioPlan& plan, const VfioRoots& roots) {
  for (const VfioWrite& w : plan.writes) {
    const std::string path = roots.sys + "/" + w.file;
    // No O_CREAT: a sysfs attribute that is not there is an error. One
    // write(2): sysfs takes each write as a whole value.
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd.ok()) return ErrnoError() << "vfio: open " << path;
    ssize_t n = ::write(fd.get(), w.value.data(), w.value.size());
    if (n < 0) return ErrnoError() << "vfio: write \"" << w.value << "\" to " << path;
    if (static_cast<size_t>(n) != w.value.size())
      return Err() << "vfio: short write of \"" << w.value << "\" to " << path;
  }
  return {};
}

Result<void> CheckVfioBound(const VfioPlan& plan, const VfioRoots& roots) {
  for (const std::string& address : plan.addresses) {
    auto driver = LinkBasename(roots.sys + "/bus/pci/devices/" + address + "/driver");
    if (!driver.ok()) return driver.error();
    if (*driver != kVfioPciDriver)
      return Err() << "vfio: PCI device " << address << " has " << DescribeDriver(*driver)
                   << " after binding it to vfio-pci; see dmesg";
  }
  for (int g : plan.groups) {
    const std::string node = roots.dev + "/vfio/" + std::to_string(g);
    if (!Exists(node))
      return Err() << "vfio: " << node
                   << " does not exist after binding its devices (devtmpfs on /dev?)";
  }
  return {};
}

Result<VfioPlan> BindToVfio(const std::vector<std::string>& addresses, const VfioRoots& roots) {
  auto view = ReadVfioView(addresses, roots);
  if (!view.ok()) return view.error();
  auto plan = PlanVfioBind(*view);
  if (!plan.ok()) return plan.error();
  if (auto r = ApplyVfioPlan(*plan, roots); !r.ok()) return r.error();
  if (auto r = CheckVfioBound(*plan, roots); !r.ok()) return r.error();
  return plan;
}

}  // namespace jail
}  // namespace initos
