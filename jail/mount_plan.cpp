#include "jail/mount_plan.h"

#include <sys/mount.h>

#include <algorithm>

namespace initos {
inline namespace jail {

const char* const kMaskedProcFiles[] = {
    "/proc/kcore",       "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/kallsyms",      nullptr};
const char* const kMaskedDirs[] = {"/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware",
                                   nullptr};
const char* const kReadOnlyPaths[] = {"/proc/bus",           "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger", nullptr};

namespace {

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

MountStep Fs(std::string fstype, std::string source, std::string target, unsigned long flags,
             std::string data) {
  MountStep s;
  s.kind = MountStep::Kind::kFilesystem;
  s.fstype = std::move(fstype);
  s.source = std::move(source);
  s.target = std::move(target);
  s.flags = flags;
  s.data = std::move(data);
  return s;
}

MountStep Bind(std::string source, std::string target, MountStep::TargetType type) {
  MountStep s;
  s.kind = MountStep::Kind::kBind;
  s.source = std::move(source);
  s.target = std::move(target);
  s.target_type = type;
  return s;
}

MountStep ReadOnly(std::string target) {
  MountStep s;
  s.kind = MountStep::Kind::kRemountReadOnly;
  s.target = std::move(target);
  return s;
}

MountStep Symlink(std::string text, std::string target) {
  MountStep s;
  s.kind = MountStep::Kind::kSymlink;
  s.source = std::move(text);
  s.target = std::move(target);
  s.target_type = MountStep::TargetType::kFile;
  return s;
}

void AddProc(std::vector<MountStep>& plan) {
  plan.push_back(Fs("proc", "proc", "/proc", kNoSuidDevExec, ""));
  for (const char* const* f = kMaskedProcFiles; *f; ++f) {
    MountStep s = Bind("/dev/null", *f, MountStep::TargetType::kFile);
    s.optional = true;  // not every kernel has every file
    plan.push_back(s);
  }
  for (const char* const* d = kMaskedDirs; *d; ++d) {
    if (std::string(*d).starts_with("/sys/")) continue;  // after /sys is there
    MountStep s = Fs("tmpfs", "tmpfs", *d, MS_RDONLY | kNoSuidDevExec, "size=0");
    s.optional = true;
    plan.push_back(s);
  }
  for (const char* const* p = kReadOnlyPaths; *p; ++p) {
    // Bound onto itself first: a read-only remount needs a mount of its own.
    MountStep self = Bind(*p, *p, MountStep::TargetType::kLikeSource);
    self.source_in_jail = true;
    self.recursive = true;
    self.optional = true;
    plan.push_back(self);
    MountStep ro = ReadOnly(*p);
    ro.optional = true;
    plan.push_back(ro);
  }
}

void AddSys(std::vector<MountStep>& plan, const MountPlanInput& in) {
  if (in.new_netns) {
    // sysfs shows the mounting netns' devices: only one the jail owns.
    plan.push_back(Fs("sysfs", "sysfs", "/sys", MS_RDONLY | kNoSuidDevExec, ""));
  } else {
    MountStep s = Bind("/sys", "/sys", MountStep::TargetType::kDirectory);
    s.recursive = true;
    plan.push_back(s);
    plan.push_back(ReadOnly("/sys"));
  }
  MountStep fw = Fs("tmpfs", "tmpfs", "/sys/firmware", MS_RDONLY | kNoSuidDevExec, "size=0");
  fw.optional = true;
  plan.push_back(fw);
  // The jail's cgroup namespace root: writable so a delegated OS (systemd)
  // can manage its subtree; the limits above it are not visible in it.
  plan.push_back(Fs("cgroup2", "cgroup2", "/sys/fs/cgroup", kNoSuidDevExec, ""));
}

void AddDev(std::vector<MountStep>& plan, const MountPlanInput& in) {
  plan.push_back(Fs("tmpfs", "tmpfs", "/dev", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k"));
  std::vector<std::string> devices;
  for (const char* d : kDefaultJailDevices) devices.push_back(d);
  // Beyond the default set only real root may have hardware.
  if (!in.user_namespace)
    for (const auto& d : in.config->devices) devices.push_back(d);
  std::vector<std::string> seen;
  for (const auto& d : devices) {
    if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
    seen.push_back(d);
    if (d == "/dev/ptmx" || d == "/dev/console") continue;  // below
    plan.push_back(Bind(d, d, MountStep::TargetType::kFile));
  }
  std::string pts = "newinstance,ptmxmode=0666,mode=0620";
  if (in.gid5_mapped) pts += ",gid=5";
  plan.push_back(Fs("devpts", "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, pts));
  plan.push_back(Symlink("pts/ptmx", "/dev/ptmx"));
  plan.push_back(Fs("tmpfs", "shm", "/dev/shm", kNoSuidDevExec, "mode=1777"));
  plan.push_back(Symlink("/proc/self/fd", "/dev/fd"));
  plan.push_back(Symlink("/proc/self/fd/0", "/dev/stdin"));
  plan.push_back(Symlink("/proc/self/fd/1", "/dev/stdout"));
  plan.push_back(Symlink("/proc/self/fd/2", "/dev/stderr"));
  // Spawn has put the console on fd 0 by the time the mounts run.
  if (in.console_is_tty)
    plan.push_back(Bind("/proc/self/fd/0", "/dev/console", MountStep::TargetType::kFile));
}

}  // namespace

std::vector<MountStep> BuildMountPlan(const MountPlanInput& in) {
  std::vector<MountStep> plan;
  AddProc(plan);
  AddSys(plan, in);
  AddDev(plan, in);
  plan.push_back(Fs("tmpfs", "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=755"));
  plan.push_back(Fs("tmpfs", "tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777"));
  // systemd's container interface: who runs this container.
  MountStep manager;
  manager.kind = MountStep::Kind::kWriteFile;
  manager.source = "initos\n";
  manager.target = "/run/host/container-manager";
  manager.target_type = MountStep::TargetType::kFile;
  plan.push_back(manager);
  for (const JailMount& m : in.config->mounts) {
    if (m.type == JailMount::Type::kTmpfs) {
      std::string data = "mode=755";
      if (!m.size.empty()) data += ",size=" + m.size;
      plan.push_back(Fs("tmpfs", "tmpfs", m.target, MS_NOSUID | MS_NODEV, data));
      continue;
    }
    MountStep b = Bind(m.source, m.target, MountStep::TargetType::kLikeSource);
    b.recursive = true;
    plan.push_back(b);
    if (m.read_only) plan.push_back(ReadOnly(m.target));
  }
  return plan;
}

std::string DescribeMountStep(const MountStep& s) {
  switch (s.kind) {
    case MountStep::Kind::kFilesystem:
      return "mount " + s.fstype + " on " + s.target + (s.data.empty() ? "" : " (" + s.data + ")") +
             ((s.flags & MS_RDONLY) ? " read-only" : "");
    case MountStep::Kind::kBind:
      return std::string(s.recursive ? "rbind " : "bind ") + s.source + " -> " + s.target;
    case MountStep::Kind::kRemountReadOnly:
      return "remount " + s.target + " read-only";
    case MountStep::Kind::kSymlink:
      return "symlink " + s.target + " -> " + s.source;
    case MountStep::Kind::kWriteFile:
      return "write " + s.target;
  }
  return "?";
}

}  // namespace jail
}  // namespace initos
