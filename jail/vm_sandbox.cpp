#include "jail/vm_sandbox.h"

#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "base/file.h"
#include "base/spawn.h"
#include "jail/capabilities.h"
#include "jail/cgroup.h"
#include "jail/mounts.h"
#include "jail/process_steps.h"
#include "jail/user.h"
#include "os/idmap.h"

namespace initos {
inline namespace jail {
namespace {

MountStep Bind(const std::string& path, MountStep::TargetType type, bool recursive = false) {
  MountStep s;
  s.kind = MountStep::Kind::kBind;
  s.source = path;
  s.target = path;
  s.target_type = type;
  s.recursive = recursive;
  return s;
}

MountStep ReadOnly(const std::string& target) {
  MountStep s;
  s.kind = MountStep::Kind::kRemountReadOnly;
  s.target = target;
  return s;
}

MountStep Filesystem(const std::string& fstype, const std::string& target, unsigned long flags,
                     const std::string& data) {
  MountStep s;
  s.kind = MountStep::Kind::kFilesystem;
  s.source = fstype;
  s.fstype = fstype;
  s.target = target;
  s.flags = flags;
  s.data = data;
  return s;
}

bool IsVfioGroupNode(const std::string& path) {
  const std::string prefix = "/dev/vfio/";
  if (!path.starts_with(prefix) || path.size() == prefix.size()) return false;
  return std::all_of(path.begin() + static_cast<long>(prefix.size()), path.end(),
                     [](unsigned char c) { return std::isdigit(c); });
}

// The host groups QEMU needs for `devices` (its own uid owns nothing):
// world-accessible nodes need none, a group-accessible node its group
// (/dev/kvm: kvm), a VFIO group node (root's, 0600) is given to QEMU's uid:
// the IOMMU group belongs to this VM alone while it runs.
Result<std::vector<gid_t>> DeviceGroups(const VmSandboxSpec& spec) {
  std::vector<gid_t> gids;
  for (const std::string& dev : spec.devices) {
    struct stat st {};
    if (::stat(dev.c_str(), &st) != 0) return ErrnoError() << "device " << dev;
    if (!S_ISCHR(st.st_mode)) return Err() << "device " << dev << " is not a character device";
    if ((st.st_mode & 0006) == 0006) continue;
    if (st.st_gid != 0 && (st.st_mode & 0060) == 0060) {
      if (std::find(gids.begin(), gids.end(), st.st_gid) == gids.end()) gids.push_back(st.st_gid);
      continue;
    }
    if (IsVfioGroupNode(dev)) {
      if (::chown(dev.c_str(), spec.host_id, static_cast<gid_t>(-1)) != 0)
        return ErrnoError() << "chown " << dev << " to QEMU's uid " << spec.host_id;
      continue;
    }
    return Err() << "device " << dev << " (mode " << std::oct << (st.st_mode & 07777) << std::dec
                 << ", gid " << st.st_gid
                 << ") cannot be opened by QEMU's unprivileged uid; give it a group with rw "
                    "access (as /dev/kvm has kvm)";
  }
  return gids;
}

}  // namespace

uint64_t VmSandboxCloneFlags(bool new_netns) {
  uint64_t f =
      CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  if (new_netns) f |= CLONE_NEWNET;
  return f;
}

std::vector<MountStep> VmSandboxMountPlan(const VmRootLayout& layout,
                                          const std::vector<std::string>& devices, bool bind_sys) {
  using T = MountStep::TargetType;
  std::vector<MountStep> plan;
  for (const std::string& d : layout.bind_dirs) {
    plan.push_back(Bind("/" + d, T::kDirectory));
    plan.push_back(ReadOnly("/" + d));
  }
  if (layout.ld_so_cache) {
    plan.push_back(Bind("/etc/ld.so.cache", T::kFile));
    plan.back().optional = true;
    plan.push_back(ReadOnly("/etc/ld.so.cache"));
    plan.back().optional = true;
  }
  plan.push_back(Filesystem("tmpfs", "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k"));
  for (const char* d : {"/dev/null", "/dev/zero", "/dev/urandom"})
    plan.push_back(Bind(d, T::kFile));
  for (const std::string& d : devices) plan.push_back(Bind(d, T::kFile));
  plan.push_back(ReadOnly("/dev"));
  plan.push_back(Filesystem("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
  if (bind_sys) {
    plan.push_back(Bind("/sys", T::kDirectory, /*recursive=*/true));
    plan.push_back(ReadOnly("/sys"));
  }
  plan.push_back(ReadOnly("/"));
  return plan;
}

Result<void> CheckVmMemoryMax(const std::string& jail, const JailLimits& limits,
                              uint64_t guest_memory) {
  if (!limits.memory_max) return {};
  const uint64_t need = guest_memory + kVmQemuOverhead;
  if (*limits.memory_max >= need) return {};
  return Err() << "jail " << jail << ": memory-max " << (*limits.memory_max >> 20)
               << "M does not leave room for the guest's " << (guest_memory >> 20)
               << "M plus QEMU's " << (kVmQemuOverhead >> 20) << "M; raise memory-max to at least "
               << (need >> 20) << "M or lower memory";
}

std::string VmGidMap(uint32_t host_id, const std::vector<gid_t>& device_gids) {
  std::string map = "0 " + std::to_string(host_id) + " 1\n";
  for (size_t i = 0; i < device_gids.size(); ++i)
    map += std::to_string(i + 1) + " " + std::to_string(device_gids[i]) + " 1\n";
  return map;
}

Result<VmRootLayout> MakeVmRootSkeleton(const std::string& dir) {
  VmRootLayout layout;
  layout.bind_dirs.push_back("usr");
  for (const char* top : {"bin", "sbin", "lib", "lib64"}) {
    std::string host = std::string("/") + top;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char link[256];
      ssize_t n = ::readlink(host.c_str(), link, sizeof(link) - 1);
      if (n <= 0) return ErrnoError() << "readlink " << host;
      layout.symlinks.emplace_back(top, std::string(link, static_cast<size_t>(n)));
    } else if (S_ISDIR(st.st_mode)) {
      layout.bind_dirs.push_back(top);
    }
  }
  layout.ld_so_cache = ::access("/etc/ld.so.cache", R_OK) == 0;
  // Built once per boot (a tmpfs under /run), root's and read-only to QEMU.
  INITOS_TRY(MakeDirs(dir, 0755));
  if (::chmod(dir.c_str(), 0755) != 0) return ErrnoError() << "chmod " << dir;
  for (const std::string& d : layout.bind_dirs) INITOS_TRY(MakeDirs(dir + "/" + d, 0755));
  for (const char* d : {"dev", "proc", "sys", "etc"}) INITOS_TRY(MakeDirs(dir + "/" + d, 0755));
  for (const auto& [name, text] : layout.symlinks) {
    std::string path = dir + "/" + name;
    char have[256];
    ssize_t n = ::readlink(path.c_str(), have, sizeof(have) - 1);
    if (n >= 0 && std::string(have, static_cast<size_t>(n)) == text) continue;
    ::unlink(path.c_str());
    if (::symlink(text.c_str(), path.c_str()) != 0) return ErrnoError() << "symlink " << path;
  }
  if (layout.ld_so_cache && ::access((dir + "/etc/ld.so.cache").c_str(), F_OK) != 0)
    INITOS_TRY(WriteStringToFile(dir + "/etc/ld.so.cache", ""));
  return layout;
}

Result<SandboxedQemu> SpawnSandboxedQemu(const VmSandboxSpec& spec) {
  const std::string& name = spec.name;
  if (spec.host_id == 0)
    return Err() << "jail " << name << ": QEMU needs an unprivileged host uid, not 0";
  if (spec.argv.empty() || !spec.argv[0].starts_with("/usr/"))
    return Err() << "jail " << name << ": QEMU's path must be absolute under /usr";
  INITOS_TRY(CheckVmMemoryMax(name, spec.limits, spec.guest_memory));
  auto layout = MakeVmRootSkeleton(spec.root_dir);
  if (!layout.ok()) return Err() << "jail " << name << ": QEMU's root: " << layout.error().str();
  auto gids = DeviceGroups(spec);
  if (!gids.ok()) return Err() << "jail " << name << ": " << gids.error().str();
  const std::vector<MountStep> plan = VmSandboxMountPlan(*layout, spec.devices, spec.bind_sys);
  const std::string uid_map = "0 " + std::to_string(spec.host_id) + " 1\n";
  const std::string gid_map = VmGidMap(spec.host_id, *gids);
  std::vector<gid_t> inside_groups;
  for (size_t i = 0; i < gids->size(); ++i) inside_groups.push_back(static_cast<gid_t>(i + 1));

  SandboxedQemu out;
  JailCgroup cgroup;
  if (!spec.cgroup_parent.empty()) {
    auto cg = CreateJailCgroup(spec.cgroup_parent, name, spec.limits);
    if (!cg.ok()) return Err() << "jail " << name << ": cgroup: " << cg.error().str();
    cgroup = std::move(*cg);
    out.cgroup = cgroup.path;
  } else if (HasLimits(spec.limits)) {
    return Err() << "jail " << name << ": has cgroup limits but no cgroup to hold them";
  }

  SpawnOptions o;
  o.argv = spec.argv;
  o.env = std::vector<std::string>{"PATH=/usr/bin:/bin"};
  o.new_session = true;
  o.stdin_fd = o.stdout_fd = o.stderr_fd = spec.console_fd;
  o.clone_flags = VmSandboxCloneFlags(spec.new_netns);
  o.cgroup_fd = cgroup.dir.get();
  o.pidfd_out = &out.pidfd;
  o.inherit_fds = spec.fds;
  o.parent_step = [&](pid_t child) -> Result<void> {
    if (spec.memlock_bytes > 0) {
      struct rlimit lim = {spec.memlock_bytes, spec.memlock_bytes};
      if (::prlimit(child, RLIMIT_MEMLOCK, &lim, nullptr) != 0)
        return ErrnoError() << "RLIMIT_MEMLOCK of QEMU (VFIO pins the guest's memory)";
    }
    return WriteIdMapText(child, uid_map, gid_map, /*deny_setgroups=*/false);
  };
  o.steps.push_back({"become root of the user namespace", [] { return BecomeNamespaceRoot(); }});
  if (!inside_groups.empty())
    o.steps.push_back({"join the device groups", [&inside_groups]() -> Result<void> {
                         if (::setgroups(inside_groups.size(), inside_groups.data()) != 0)
                           return ErrnoError() << "setgroups";
                         return {};
                       }});
  const std::string root_dir = spec.root_dir;
  o.steps.push_back(
      {"set up QEMU's root", [&] { return SetUpJailRoot(root_dir, plan, /*chroot_ok=*/true); }});
  o.steps.push_back({"set the hostname", [&] { return SetJailHostname(name); }});
  o.steps.push_back(
      {"drop every capability", [] { return ApplyCapabilities({}, kNoRootSecurebits); }});
  o.steps.push_back({"set no_new_privs", [] { return SetNoNewPrivs(); }});
  auto pid = Spawn(o);
  if (!pid.ok()) {
    if (!cgroup.path.empty()) (void)RemoveJailCgroup(cgroup.path);
    return Err() << "jail " << name << ": " << pid.error().str();
  }
  out.pid = *pid;
  return out;
}

}  // namespace jail
}  // namespace initos
