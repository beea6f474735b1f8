#include "jail/vm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/log.h"
#include "base/sys/syscalls.h"
#include "jail/cgroup.h"
#include "jail/container.h"
#include "jail/kvm_probe.h"
#include "jail/tap.h"
#include "jail/vfio.h"
#include "jail/vm_argv.h"
#include "jail/vm_channel_host.h"
#include "jail/vm_guest.h"
#include "jail/vm_sandbox.h"

namespace initos {
inline namespace jail {
namespace {

// A bundle or state disk on a partition (PARTLABEL=, PARTUUID=) rather
// than a file: QEMU needs its host_device driver for it (jail/vm_argv.h).
bool IsBlockDevice(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISBLK(st.st_mode);
}

// vsock guest CIDs are host-wide: one allocator per process (the
// supervisor), each CID claimed on its vhost-vsock fd before QEMU gets it.
VmCidAllocator& GuestCids() {
  static VmCidAllocator cids;
  return cids;
}

// A claimed CID goes back to the allocator unless the VM started.
struct CidClaim {
  uint32_t cid = 0;
  bool keep = false;
  ~CidClaim() {
    if (cid && !keep) GuestCids().Release(cid);
  }
};

std::string Bytes(uint64_t b) {
  if (b % (1ull << 30) == 0) return std::to_string(b >> 30) + "G";
  return std::to_string(b >> 20) + "M";
}

// Kills a QEMU that started but cannot be used (no QMP) and reaps it.
void KillAndReap(pid_t pid, int pidfd) {
  if (pidfd >= 0)
    (void)sys::PidfdSendSignal(pidfd, SIGKILL, nullptr, 0);
  else
    ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// The guest's initramfs (initos as /init, its config, the keys, the guest
// kernel's modules) in a sealed memfd.
Result<unique_fd> GuestInitramfsFor(const VmSpec& spec) {
  const JailConfig& c = spec.config;
  GuestSpec guest;
  guest.jail_name = c.name;
  guest.rootfs_name = c.rootfs_name;
  guest.min_version = spec.rootfs.floor;
  guest.key_paths = spec.rootfs.key_paths;
  guest.os_argv = JailChainArgv(c);
  guest.state_disk = !c.vm.state_disk.empty();
  guest.vsock = c.vm.vsock;
  guest.initos_binary = spec.initos_binary.empty() ? "/proc/self/exe" : spec.initos_binary;
  auto modules = GuestModulesRoot(c);
  if (!modules.ok()) return modules.error();
  guest.modules_root = *modules;
  return GuestInitramfsMemfd(guest);
}

}  // namespace

Result<std::vector<std::string>> VfioDeviceNodes(const std::vector<std::string>& devices,
                                                 const std::string& sys_root) {
  std::vector<std::string> nodes;
  if (devices.empty()) return nodes;
  nodes.push_back("/dev/vfio/vfio");
  for (const std::string& dev : devices) {
    std::string link = sys_root + "/sys/bus/pci/devices/" + dev + "/iommu_group";
    char target[512];
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0)
      return ErrnoError() << "PCI device " << dev
                          << " has no IOMMU group; enable the IOMMU (intel_iommu=on or "
                             "amd_iommu=on) or remove it from devices";
    std::string group(target, static_cast<size_t>(n));
    group = group.substr(group.rfind('/') + 1);
    std::string node = "/dev/vfio/" + group;
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
  }
  return nodes;
}

std::string VmKernelPath(const JailConfig& jail) {
  return jail.vm.kernel.empty() ? std::string(kDefaultVmKernel) : jail.vm.kernel;
}

std::string DescribeVmStart(const JailConfig& jail, const std::string& accel,
                            const std::string& accel_why, uint32_t cid) {
  std::string s = "accel " + accel + " (" + accel_why + "), machine " + jail.vm.machine + ", " +
                  std::to_string(jail.vm.cpus) + (jail.vm.cpus == 1 ? " cpu, " : " cpus, ") +
                  Bytes(jail.vm.memory) + ", ";
  s += cid ? "vsock CID " + std::to_string(cid) : std::string("no vsock");
  return s;
}

Result<StartedVm> StartVm(const VmSpec& spec) {
  const JailConfig& c = spec.config;
  const std::string& name = c.name;
  if (c.kind != JailKind::kVm) return Err() << "jail " << name << " is not kind = \"vm\"";
  if (!spec.rootfs.bundle_fd || !spec.rootfs.bundle_fd->ok())
    return Err() << "jail " << name << ": no verified bundle (a VM jail needs a signed bundle)";
  INITOS_TRY(CheckVmMemoryMax(name, c.limits, c.vm.memory));

  // TCG when configured: no probe (it may cost up to its timeout).
  auto accel = ChooseAccel(c.vm.accel, c.vm.accel == "tcg" ? KvmProbe{} : CachedKvmProbe());
  if (!accel.ok()) return Err() << "jail " << name << ": " << accel.error().str();

  // Passthrough devices leave their host drivers for vfio-pci first (the
  // whole IOMMU group checked): the host keeps no driver on them.
  if (!c.devices.empty()) {
    auto bound = BindToVfio(c.devices);
    if (!bound.ok()) return Err() << "jail " << name << ": VFIO: " << bound.error().str();
  }

  const std::string kernel_path = VmKernelPath(c);
  auto kernel = SealedCopy(kernel_path, "vm-kernel");
  if (!kernel.ok())
    return Err() << "jail " << name << ": kernel: " << kernel.error().str()
                 << "; set the jail's kernel or install one at " << kDefaultVmKernel;

  auto initramfs = GuestInitramfsFor(spec);
  if (!initramfs.ok())
    return Err() << "jail " << name << ": guest initramfs: " << initramfs.error().str();

  unique_fd vhost, state, tap;
  CidClaim claim;
  if (c.vm.vsock) {
    auto vh = OpenVhostVsock(GuestCids());
    if (!vh.ok()) return Err() << "jail " << name << ": vsock: " << vh.error().str();
    vhost = std::move(vh->fd);
    claim.cid = vh->cid;
  }
  const uint32_t cid = claim.cid;
  if (!c.vm.state_disk.empty()) {
    state.reset(::open(c.vm.state_disk.c_str(), O_RDWR | O_CLOEXEC));
    if (!state.ok())
      return ErrnoError() << "jail " << name << ": open the state disk " << c.vm.state_disk;
  }
  if (c.network.kind == JailNetworkKind::kTap) {
    // Not persistent: the tap goes away with QEMU's fd (and ours, below).
    const std::string tap_name = TapName(c);
    auto t = CreateTap(tap_name);
    if (!t.ok()) return Err() << "jail " << name << ": tap " << tap_name << ": " << t.error().str();
    tap = std::move(*t);
    if (auto h = ConfigureTapHost(tap_name, c.network.host_address); !h.ok())
      return Err() << "jail " << name << ": tap " << tap_name << ": " << h.error().str();
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return ErrnoError() << "jail " << name << ": socketpair for QMP";
  unique_fd qmp_ours(sv[0]), qmp_theirs(sv[1]);

  // QEMU's fds, in the order it gets them: 3, 4, ...
  std::vector<int> fds;
  auto pass = [&fds](int fd) {
    fds.push_back(fd);
    return 2 + static_cast<int>(fds.size());
  };
  VmResources res;
  res.accel = accel->accel;
  res.qmp_fd = pass(qmp_theirs.get());
  res.rootfs_fd = pass(spec.rootfs.bundle_fd->get());
  res.rootfs_block_device = IsBlockDevice(spec.rootfs.bundle_fd->get());
  res.kernel_path = "/proc/self/fd/" + std::to_string(pass(kernel->get()));
  res.initramfs_path = "/proc/self/fd/" + std::to_string(pass(initramfs->get()));
  if (state.ok()) {
    res.state_disk_fd = pass(state.get());
    res.state_disk_block_device = IsBlockDevice(state.get());
  }
  if (vhost.ok()) {
    res.vhost_vsock_fd = pass(vhost.get());
    res.guest_cid = cid;
  }
  if (tap.ok()) res.tap_fd = pass(tap.get());
  res.vfio_devices = c.devices;
  auto argv = VmJailArgv(c, res);
  if (!argv.ok()) return Err() << "jail " << name << ": " << argv.error().str();
  (*argv)[0] = spec.qemu_binary;

  VmSandboxSpec sandbox;
  sandbox.name = name;
  sandbox.argv = *argv;
  sandbox.fds = fds;
  sandbox.console_fd = spec.console_fd;
  sandbox.host_id = spec.host_id;
  sandbox.new_netns = c.network.kind != JailNetworkKind::kUser;
  if (accel->accel == "kvm") sandbox.devices.push_back("/dev/kvm");
  // VFIO: the devices were bound to vfio-pci above; QEMU opens their
  // group nodes and reads their sysfs.
  auto vfio = VfioDeviceNodes(c.devices);
  if (!vfio.ok()) return Err() << "jail " << name << ": " << vfio.error().str();
  sandbox.devices.insert(sandbox.devices.end(), vfio->begin(), vfio->end());
  sandbox.bind_sys = !vfio->empty();
  if (!vfio->empty()) sandbox.memlock_bytes = c.vm.memory + kVmQemuOverhead;
  sandbox.cgroup_parent = spec.cgroup_parent;
  sandbox.limits = c.limits;
  sandbox.guest_memory = c.vm.memory;
  auto qemu = SpawnSandboxedQemu(sandbox);
  if (!qemu.ok()) return qemu.error();

  StartedVm vm;
  vm.pid = qemu->pid;
  vm.pidfd = std::move(qemu->pidfd);
  vm.cgroup = qemu->cgroup;
  vm.cid = cid;
  vm.accel = accel->accel;
  qmp_theirs.reset();  // QEMU holds it: a QEMU that dies closes the socket
  vm.qmp = std::make_unique<QmpClient>(std::move(qmp_ours));
  if (auto h = vm.qmp->Handshake(); !h.ok()) {
    KillAndReap(vm.pid, vm.pidfd.get());
    if (!vm.cgroup.empty()) (void)RemoveJailCgroup(vm.cgroup);
    return Err() << "jail " << name << ": QEMU (pid " << vm.pid << ") " << h.error().str()
                 << "; its console log says why";
  }
  claim.keep = true;  // released by CleanUpVm
  LOG(Info) << "jail " << name << ": QEMU pid " << vm.pid << ", "
            << DescribeVmStart(c, accel->accel, accel->why, cid);
  return vm;
}

Result<void> RequestVmPowerdown(StartedVm& vm) {
  if (!vm.qmp) return Err() << "no QMP connection";
  return vm.qmp->SystemPowerdown();
}

void CleanUpVm(const VmSpec& spec, StartedVm& vm) {
  (void)spec;
  vm.qmp.reset();
  if (vm.cid) GuestCids().Release(vm.cid);
  vm.cid = 0;
  if (!vm.cgroup.empty()) (void)RemoveJailCgroup(vm.cgroup);
}

}  // namespace jail
}  // namespace initos
