// Rules across the keys of a [[jail]] entry and across entries. Each problem
// names the key it is about and sits on that key's line when the parser
// recorded one.
#include "format/jail_check.h"

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <set>

#include "format/config_values.h"

namespace initos {
inline namespace format {
namespace {

constexpr int kMaxMs = 24 * 3600 * 1000;
constexpr int kMaxS = 24 * 3600;
// What QEMU needs beside the guest's RAM (its code, device state, TCG's
// translation cache): memory-max below memory + this OOM-kills the VM.
constexpr uint64_t kVmQemuOverhead = 64ull << 20;
constexpr std::string_view kBundleHint =
    "a signed bundle (\"PARTLABEL=name\" or \"LABEL=name:/path/file.bundle\")";

// Collects the problems of one entry (or of [jails]) under one key prefix.
class Problems {
 public:
  Problems(std::string_view file, std::string prefix, const std::map<std::string, int>& lines,
           int fallback_line, std::vector<ConfigProblem>& out)
      : file_(file),
        prefix_(std::move(prefix)),
        lines_(lines),
        fallback_(fallback_line),
        out_(out) {}

  // `leaf` names the key; `line_key` the recorded line to use (default leaf).
  void Add(std::string_view leaf, std::string message, std::string_view line_key = {}) {
    std::string where(line_key.empty() ? leaf : line_key);
    auto it = lines_.find(where);
    if (it == lines_.end()) it = lines_.find(std::string(leaf));
    int line = it != lines_.end() ? it->second : fallback_;
    out_.push_back(ConfigProblem{std::string(file_), line, prefix_ + "." + std::string(leaf),
                                 std::move(message), true});
  }
  void Add(std::string_view leaf, const Error& e, std::string_view line_key = {}) {
    Add(leaf, e.str(), line_key);
  }
  // The key was written in the file (false for configs built in code).
  bool Written(std::string_view leaf) const { return lines_.contains(std::string(leaf)); }

 private:
  std::string_view file_;
  std::string prefix_;
  const std::map<std::string, int>& lines_;
  int fallback_;
  std::vector<ConfigProblem>& out_;
};

// argv[0] must be absolute: a jail never searches PATH.
std::string ArgvProblem(const std::vector<std::string>& argv) {
  if (argv.empty()) return "empty argv; write e.g. [\"/bin/app\", \"--flag\"]";
  if (!argv[0].starts_with("/"))
    return "program \"" + argv[0] +
           "\" is not an absolute path (a jail never searches PATH); write e.g. [\"/bin/sh\", "
           "\"-c\", \"...\"]";
  return "";
}

// A bundle locator of rootfs / rootfs-slots; "" when fine.
std::string BundleLocatorProblem(const std::string& locator) {
  if (locator.starts_with("LABEL=") && locator.find(':') == std::string::npos)
    return "\"" + locator +
           "\" names a filesystem, not a bundle; write "
           "\"LABEL=name:/path/file.bundle\" or \"PARTLABEL=name\"";
  if (auto r = ValidateImageSpec(locator); !r.ok()) return r.error().str();
  return "";
}

// rootfs-slots (docs/upgrades.md "Jail slots"): two bundles, the record on
// the state partition. false when the slots are unusable.
bool CheckRootfsSlots(const JailConfig& j, const Config& c, Problems& p) {
  if (j.rootfs_slots.empty()) {
    if (j.rootfs_tries)
      p.Add("rootfs-tries", "set without rootfs-slots; remove it or list two slots");
    return true;
  }
  bool ok = true;
  if (!j.rootfs.empty()) {
    p.Add("rootfs-slots",
          "rootfs and rootfs-slots are mutually exclusive; keep one (rootfs-slots for A/B "
          "upgrades)");
    ok = false;
  }
  if (j.rootfs_slots.size() != 2) {
    p.Add("rootfs-slots", "lists " + std::to_string(j.rootfs_slots.size()) +
                              " slot(s); list exactly two, e.g. [\"PARTLABEL=web-a\", "
                              "\"PARTLABEL=web-b\"]");
    ok = false;
  }
  for (const std::string& s : j.rootfs_slots) {
    std::string problem = s.starts_with("/") ? "\"" + s +
                                                   "\" is a directory; a slot holds a signed "
                                                   "bundle: " +
                                                   std::string(kBundleHint)
                                             : BundleLocatorProblem(s);
    if (!problem.empty()) {
      p.Add("rootfs-slots", problem);
      ok = false;
    }
  }
  if (j.rootfs_slots.size() == 2 && j.rootfs_slots[0] == j.rootfs_slots[1]) {
    p.Add("rootfs-slots", "both slots are \"" + j.rootfs_slots[0] + "\"; name two places");
    ok = false;
  }
  if (c.state.device.empty()) {
    p.Add("rootfs-slots",
          "needs the state partition for the jail's boot-state record; set [state] device");
    ok = false;
  }
  return ok;
}

void CheckRootfs(const JailConfig& j, const Config& c, Problems& p) {
  if (!CheckRootfsSlots(j, c, p)) return;
  if (j.rootfs.empty() && j.rootfs_slots.empty())
    return p.Add("rootfs", "required: " + std::string(kBundleHint) +
                               " or, for development, an absolute directory");
  if (JailRootfsIsDirectory(j)) {
    if (j.kind == JailKind::kVm)
      return p.Add("rootfs",
                   "a VM jail boots a signed bundle attached as a disk, and a directory cannot "
                   "be one; use " +
                       std::string(kBundleHint));
    if (j.rootfs == "/")
      return p.Add("rootfs",
                   "\"/\" is the host's own root; give the jail its own tree, e.g. "
                   "\"/srv/jails/debian\"");
    if (std::string problem = PlainAbsolutePathProblem(j.rootfs); !problem.empty())
      p.Add("rootfs", "\"" + j.rootfs + "\" " + problem + "; write a plain absolute directory");
    return;
  }
  if (j.rootfs_slots.empty()) {
    std::string problem = BundleLocatorProblem(j.rootfs);
    if (!problem.empty() && !j.rootfs.starts_with("LABEL="))
      problem += "; or, for development, an absolute directory";
    if (!problem.empty()) return p.Add("rootfs", problem);
  }
  if (j.rootfs_name.empty())
    p.Add("rootfs-name",
          "required with a bundle rootfs: the --name the jail's image is built with, so a signed "
          "image of another product is refused; write e.g. rootfs-name = \"debian\"",
          j.rootfs_slots.empty() ? "rootfs" : "rootfs-slots");
  else if (auto r = ValidateImageName(j.rootfs_name); !r.ok())
    p.Add("rootfs-name", r.error());
  if (j.kind == JailKind::kVm && (j.upper != "tmpfs" || p.Written("upper")))
    p.Add("upper",
          "only for containers: a VM's guest cannot reach the host's state partition; give it "
          "state-disk = \"/path/disk.img\" and remove upper");
  else if (j.upper != "tmpfs" && j.upper != "state")
    p.Add("upper", "unknown value \"" + j.upper + "\"; expected one of tmpfs, state");
  else if (j.upper == "state" && c.state.device.empty())
    p.Add("upper",
          "\"state\" keeps the jail's changes on the state partition, but "
          "state.device is not set; set [state] device or use upper = \"tmpfs\"");
}

// A VM's command is the guest's PID 1, run by initos in the guest as root
// with the guest's own environment: the container-side keys for the
// program mean nothing there, so they are refused rather than ignored.
void CheckVmProgram(const JailConfig& j, Problems& p) {
  if (j.reaper || p.Written("reaper"))
    p.Add("reaper",
          "only for containers: a VM's command is the guest's PID 1 (an init reaps its "
          "orphans); remove reaper");
  if (!j.env.empty() || p.Written("env"))
    p.Add("env",
          "only for containers: a VM's guest gets its environment from its own OS; set it "
          "inside the guest and remove env");
  if (!j.hostname.empty() || p.Written("hostname"))
    p.Add("hostname",
          "only for containers: a VM's guest names itself (/etc/hostname in its image); "
          "remove hostname");
  for (auto [key, value] : {std::pair{"user", &j.user}, std::pair{"group", &j.group}})
    if (*value != "0" || p.Written(key))
      p.Add(key, std::string("only for containers: a VM's command is the guest's PID 1 and runs "
                             "as root inside the guest; remove ") +
                     key);
}

void CheckProgram(const JailConfig& j, Problems& p) {
  if (j.command.empty())
    p.Add("command",
          "required: the argv of the jail's program (for an OS its init), e.g. "
          "[\"/sbin/init\"]");
  else if (std::string e = ArgvProblem(j.command); !e.empty())
    p.Add("command", e);
  for (size_t i = 0; i < j.helpers.size(); ++i)
    if (std::string e = ArgvProblem(j.helpers[i]); !e.empty())
      p.Add("helpers", "helper " + std::to_string(i + 1) + ": " + e);
  if (j.kind == JailKind::kVm) return CheckVmProgram(j, p);
  for (const auto& [name, value] : j.env) {
    if (auto r = ValidateEnvName(name); !r.ok())
      p.Add("env", r.error(), "env." + name);
    else if (value.find('\0') != std::string::npos)
      p.Add("env", name + ": value contains a NUL byte", "env." + name);
  }
  if (!j.hostname.empty())
    if (auto r = ValidateHostname(j.hostname); !r.ok()) p.Add("hostname", r.error());
  if (auto r = ValidateJailAccount(j.user); !r.ok()) p.Add("user", r.error());
  if (auto r = ValidateJailAccount(j.group); !r.ok()) p.Add("group", r.error());
}

void CheckIdMap(const JailConfig& j, std::string_view key, const std::optional<IdRange>& map,
                Problems& p) {
  if (!map) return;
  std::string example = "; write e.g. {host = 100000, count = 65536}";
  // A VM's map is the host id range its QEMU process runs in.
  if (j.kind == JailKind::kPrivileged)
    return p.Add(key,
                 "only for unprivileged and VM jails (a privileged jail runs as the host's "
                 "root); remove it or set kind = \"unprivileged\"");
  if (map->count == 0) return p.Add(key, "count is 0; map at least one id" + example);
  if (map->host == 0)
    return p.Add(key,
                 "maps host id 0 (root) into the jail; start the host range above 0" + example);
  if (static_cast<uint64_t>(map->host) + map->count > UINT32_MAX)
    p.Add(key, "host " + std::to_string(map->host) + " + count " + std::to_string(map->count) +
                   " runs past the last id 4294967294" + example);
}

void CheckConfinement(const JailConfig& j, Problems& p) {
  CheckIdMap(j, "uid-map", j.uid_map, p);
  CheckIdMap(j, "gid-map", j.gid_map, p);
  for (size_t i = 0; i < j.capabilities.size(); ++i)
    if (j.capabilities[i].empty())
      p.Add("capabilities", "entry " + std::to_string(i + 1) +
                                " is empty; write names like \"NET_BIND_SERVICE\" or "
                                "\"CAP_NET_BIND_SERVICE\"");
  if (j.seccomp == "unconfined") {
    if (j.kind != JailKind::kPrivileged)
      p.Add("seccomp",
            "\"unconfined\" is only for privileged jails; use \"default\" or a "
            "profile file");
  } else if (j.seccomp != "default" && !PlainAbsolutePathProblem(j.seccomp).empty()) {
    p.Add("seccomp", "unknown value \"" + j.seccomp +
                         "\"; expected \"default\", \"unconfined\" (privileged only) or the "
                         "absolute path of a profile file");
  }
  for (size_t i = 0; i < j.devices.size(); ++i) {
    const std::string& d = j.devices[i];
    std::string at = "entry " + std::to_string(i + 1) + ": ";
    if (!d.starts_with("/dev/") || !PlainAbsolutePathProblem(d).empty()) {
      p.Add("devices",
            at + "\"" + d + "\" is not a plain path under /dev/; write e.g. \"/dev/fuse\"");
      continue;
    }
    bool is_default = false;
    for (const char* def : kDefaultJailDevices) is_default = is_default || d == def;
    if (!is_default && j.kind != JailKind::kPrivileged)
      p.Add("devices", at + "\"" + d +
                           "\" is not in the default set; only privileged jails get other "
                           "devices (set kind = \"privileged\" or remove it)");
  }
}

void CheckLimits(const JailConfig& j, Problems& p) {
  const JailLimits& l = j.limits;
  if (l.memory_max && l.memory_high && *l.memory_high > *l.memory_max)
    p.Add("memory-high", "memory-high (" + std::to_string(*l.memory_high) +
                             ") is above memory-max (" + std::to_string(*l.memory_max) +
                             "); throttling must start below the hard limit");
  if (l.pids_max && *l.pids_max == 0)
    p.Add("pids-max", "0 allows not even the jail's first process; use at least 1");
  if (!l.cpu_max.empty())
    if (auto r = ValidateCpuMax(l.cpu_max); !r.ok()) p.Add("cpu-max", r.error());
  if (l.cpu_weight && (*l.cpu_weight < 1 || *l.cpu_weight > 10000))
    p.Add("cpu-weight", "value " + std::to_string(*l.cpu_weight) +
                            " is out of range; use 1 to 10000 (100 is the default share)");
  for (const auto& line : l.io_max)
    if (auto r = ValidateIoMax(line); !r.ok()) p.Add("io-max", r.error());
  if (j.kind == JailKind::kVm && l.memory_max && *l.memory_max < j.vm.memory + kVmQemuOverhead)
    p.Add("memory-max", "memory-max (" + std::to_string(*l.memory_max) +
                            ") leaves QEMU no room above the guest's memory (" +
                            std::to_string(j.vm.memory) + "); set it at least " +
                            std::to_string((kVmQemuOverhead >> 20)) + "M above memory");
  if (j.kind == JailKind::kVm && (!j.rlimits.empty() || p.Written("rlimits")))
    return p.Add("rlimits",
                 "only for containers: the supervisor sets QEMU's own limits (locked memory "
                 "for VFIO); limit a VM jail with memory-max, pids-max and cpu-max, and remove "
                 "rlimits");
  for (const auto& [name, lim] : j.rlimits) {
    if (!RlimitFromName(name))
      p.Add("rlimits",
            "unknown rlimit \"" + name +
                "\"; use as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, "
                "nofile, nproc, rss, rtprio, rttime, sigpending or stack",
            "rlimits." + name);
    else if (lim.soft > lim.hard)
      p.Add("rlimits",
            name + ": soft limit above hard limit; write \"SOFT:HARD\" with SOFT <= HARD",
            "rlimits." + name);
  }
}

void CheckMounts(const JailConfig& j, Problems& p) {
  for (size_t i = 0; i < j.mounts.size(); ++i) {
    const JailMount& m = j.mounts[i];
    std::string at = "entry " + std::to_string(i + 1) + ": ";
    std::string line_key = "mounts." + std::to_string(i + 1);
    if (m.target == "/") {
      p.Add("mounts", at + "target \"/\" would hide the rootfs; mount below it", line_key);
    } else if (std::string e = PlainAbsolutePathProblem(m.target); !e.empty()) {
      p.Add("mounts",
            at + "target \"" + m.target + "\" " + e +
                "; write a plain absolute path inside the jail, e.g. \"/data\"",
            line_key);
    }
    if (m.type == JailMount::Type::kBind) {
      if (m.source.empty())
        p.Add("mounts", at + "a bind mount needs source = \"/host/path\"", line_key);
      else if (std::string e = PlainAbsolutePathProblem(m.source); !e.empty())
        p.Add("mounts",
              at + "source \"" + m.source + "\" " + e + "; write a plain absolute host path",
              line_key);
      if (!m.size.empty())
        p.Add("mounts", at + "size is only for type = \"tmpfs\"; remove it", line_key);
    } else {
      if (!m.source.empty()) p.Add("mounts", at + "a tmpfs has no source; remove source", line_key);
      if (!m.size.empty())
        if (auto r = ValidateTmpfsSize(m.size); !r.ok())
          p.Add("mounts", at + r.error().str(), line_key);
    }
  }
}

void CheckNetwork(const JailConfig& j, Problems& p) {
  const JailNetwork& n = j.network;
  bool vm = j.kind == JailKind::kVm;
  bool vm_net = n.kind == JailNetworkKind::kUser || n.kind == JailNetworkKind::kTap;
  std::string kind = "network = \"" + std::string(JailNetworkKindName(n.kind)) + "\"";
  if (vm && !vm_net && n.kind != JailNetworkKind::kNone)
    return p.Add("network", kind +
                                " is only for containers; a VM jail has \"none\", \"user\" "
                                "(QEMU's outbound-only user network) or \"tap\"");
  if (!vm && vm_net)
    return p.Add("network", kind +
                                " is only for kind = \"vm\"; a container has \"none\", "
                                "\"loopback\", \"veth\" or \"macvlan\"");
  bool routed = n.kind == JailNetworkKind::kVeth || n.kind == JailNetworkKind::kMacvlan;
  bool tap = n.kind == JailNetworkKind::kTap;
  if (n.kind == JailNetworkKind::kMacvlan && n.host_interface.empty())
    p.Add("host-interface",
          "network = \"macvlan\" needs host-interface, the host NIC the "
          "macvlan hangs off, e.g. \"eth0\"",
          "network");
  if (!n.host_interface.empty()) {
    if (!routed && !tap)
      p.Add("host-interface",
            "only for network = \"veth\", \"macvlan\" or \"tap\" (this jail has " + kind + ")");
    else if (auto r = ValidateInterfaceName(n.host_interface); !r.ok())
      p.Add("host-interface", r.error());
  }
  if (!n.host_address.empty()) {
    if (n.kind != JailNetworkKind::kVeth && !tap)
      p.Add("host-address",
            "only for network = \"veth\" or \"tap\" (the host side; this jail "
            "has " +
                kind + ")");
    else if (auto r = ValidateCidr(n.host_address); !r.ok())
      p.Add("host-address", r.error());
  }
  auto need_routed = [&](std::string_view key) {
    if (vm)
      return p.Add(key,
                   "a VM's guest configures its own addresses and routes (inside its OS, "
                   "e.g. systemd-networkd in the image); remove " +
                       std::string(key));
    p.Add(key, "needs network = \"veth\" or \"macvlan\" (this jail has " + kind +
                   "); set network or remove " + std::string(key));
  };
  if (!n.addresses.empty()) {
    if (!routed)
      need_routed("addresses");
    else
      for (const auto& a : n.addresses)
        if (auto r = ValidateCidr(a); !r.ok()) p.Add("addresses", r.error());
  }
  if (!n.gateway.empty()) {
    if (!routed)
      need_routed("gateway");
    else if (auto r = ValidateIpAddress(n.gateway); !r.ok())
      p.Add("gateway", r.error());
  }
  if (!n.routes.empty()) {
    if (!routed)
      need_routed("routes");
    else
      for (const auto& route : n.routes)
        if (auto r = ValidateRoute(route); !r.ok()) p.Add("routes", r.error());
  }
}

// kind = "vm": the machine's own keys, and the container keys that have no
// meaning for QEMU or the guest (refused, never ignored: even when written
// with their default value).
void CheckVm(const JailConfig& j, Problems& p) {
  const JailVm& vm = j.vm;
  if (vm.machine != "microvm" && vm.machine != "q35")
    p.Add("machine", "unknown value \"" + vm.machine + "\"; expected one of microvm, q35");
  if (vm.cpus < 1 || vm.cpus > 64)
    p.Add("cpus", "value " + std::to_string(vm.cpus) + " is out of range; use 1 to 64");
  if (vm.memory < (64ull << 20) || vm.memory > (1ull << 40))
    p.Add("memory", std::to_string(vm.memory) +
                        " bytes is out of range; use \"64M\" to \"1T\", e.g. memory = \"512M\"");
  else if (vm.memory % (1ull << 20) != 0)
    p.Add("memory", std::to_string(vm.memory) +
                        " bytes is not a whole number of MiB (QEMU takes megabytes); write e.g. "
                        "\"512M\"");
  if (vm.accel != "auto" && vm.accel != "kvm" && vm.accel != "tcg")
    p.Add("accel", "unknown value \"" + vm.accel + "\"; expected one of auto, kvm, tcg");
  for (auto [key, path] :
       {std::pair{"kernel", &vm.kernel}, std::pair{"kernel-modules", &vm.kernel_modules},
        std::pair{"state-disk", &vm.state_disk}})
    if (!path->empty())
      if (std::string e = PlainAbsolutePathProblem(*path); !e.empty())
        p.Add(key, "\"" + *path + "\" " + e + "; write a plain absolute host path");
  for (size_t i = 0; i < vm.kernel_args.size(); ++i) {
    const std::string& arg = vm.kernel_args[i];
    std::string at = "entry " + std::to_string(i + 1) + ": ";
    bool blank = arg.empty();
    for (char ch : arg) blank = blank || static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f;
    if (blank)
      p.Add("kernel-args", at + "\"" + arg +
                               "\" is empty or has a space or control character; write one "
                               "argument per entry, e.g. [\"quiet\", \"loglevel=4\"]");
    else if (arg.starts_with("init=") || arg.starts_with("rdinit="))
      p.Add("kernel-args", at + "\"" + arg +
                               "\" would bypass initos in the guest, which verifies the "
                               "rootfs before running command; set command instead");
  }
  // Container-only keys.
  if (!j.capabilities.empty() || p.Written("capabilities"))
    p.Add("capabilities",
          "only for containers: a VM jail's QEMU runs with no capabilities and the guest is "
          "root in its own kernel; remove capabilities");
  if (j.seccomp != "default" || p.Written("seccomp"))
    p.Add("seccomp",
          "only for containers: a VM jail's QEMU always runs under its own -sandbox seccomp "
          "filter; remove seccomp");
  if (!j.no_new_privileges || p.Written("no-new-privileges"))
    p.Add("no-new-privileges",
          "only for containers: QEMU always runs with no_new_privs; remove no-new-privileges");
  if (!j.mounts.empty() || p.Written("mounts"))
    p.Add("mounts",
          "only for containers: a VM's guest sees no host directory; give it state-disk for "
          "writable storage and remove mounts");
  std::set<std::string> seen;
  for (size_t i = 0; i < j.devices.size(); ++i) {
    const std::string& d = j.devices[i];
    std::string at = "entry " + std::to_string(i + 1) + ": ";
    if (auto r = ValidatePciAddress(d); !r.ok())
      p.Add("devices", at + r.error().str());
    else if (!seen.insert(d).second)
      p.Add("devices", at + "\"" + d + "\" is listed twice; list each device once");
  }
  if (!j.devices.empty() && vm.machine == "microvm")
    p.Add("devices",
          "VFIO passthrough needs a PCI bus, and machine = \"microvm\" has none; set machine "
          "= \"q35\" or remove devices");
}

// The VM keys on a container: written, or set in code to other than the
// default.
void CheckNoVmKeys(const JailConfig& j, Problems& p) {
  const JailVm& vm = j.vm;
  const JailVm def;
  std::pair<const char*, bool> keys[] = {
      {"machine", vm.machine != def.machine},
      {"cpus", vm.cpus != def.cpus},
      {"memory", vm.memory != def.memory},
      {"accel", vm.accel != def.accel},
      {"kernel", vm.kernel != def.kernel},
      {"kernel-modules", vm.kernel_modules != def.kernel_modules},
      {"kernel-args", vm.kernel_args != def.kernel_args},
      {"state-disk", vm.state_disk != def.state_disk},
      {"vsock", vm.vsock != def.vsock},
  };
  for (auto [key, changed] : keys)
    if (changed || p.Written(key))
      p.Add(key, "only for kind = \"vm\" (this jail is \"" + std::string(JailKindName(j.kind)) +
                     "\"); remove it or set kind = \"vm\"");
}

void CheckSupervision(const JailConfig& j, Problems& p) {
  auto range = [&](std::string_view key, int v, int lo, int hi) {
    if (v < lo || v > hi)
      p.Add(key, "value " + std::to_string(v) + " is out of range; use an integer from " +
                     std::to_string(lo) + " to " + std::to_string(hi));
  };
  range("restart-delay-ms", j.restart_delay_ms, 1, kMaxMs);
  range("restart-max-delay-ms", j.restart_max_delay_ms, 1, kMaxMs);
  if (j.restart_max_delay_ms >= 1 && j.restart_delay_ms > j.restart_max_delay_ms)
    p.Add("restart-max-delay-ms", "is below restart-delay-ms (" +
                                      std::to_string(j.restart_delay_ms) +
                                      "); the backoff grows from the delay up to this maximum");
  range("restart-limit", j.restart_limit, 1, 1000000);
  range("restart-window-s", j.restart_window_s, 1, kMaxS);
  range("stop-timeout-ms", j.stop_timeout_ms, 0, kMaxMs);
  if (j.kind == JailKind::kVm && (j.stop_signal != SIGTERM || p.Written("stop-signal")))
    p.Add("stop-signal",
          "only for containers: a VM jail is stopped by ACPI powerdown (and the guest agent's "
          "poweroff over vsock), then killed after stop-timeout-ms; remove stop-signal");
  else if (j.stop_signal < 1 || j.stop_signal > SIGRTMAX || j.stop_signal == SIGSTOP)
    p.Add("stop-signal", "signal " + std::to_string(j.stop_signal) +
                             " cannot stop a jail; use a name such as \"SIGTERM\" or "
                             "\"SIGRTMIN+3\" (systemd)");
  if (!j.start_after.empty() && j.start_after == j.name)
    p.Add("start-after", "names the jail itself; name another [[jail]] or remove start-after");
}

void CheckSection(const JailsConfig& s, Problems& p) {
  if (s.uid_pool_start == 0)
    p.Add("uid-pool-start", "0 would hand out host root; start the pool above 0, e.g. 100000");
  if (s.range_size == 0)
    p.Add("range-size", "0 ids per jail; use e.g. 65536");
  else if (s.range_size > s.uid_pool_size)
    p.Add("range-size", "range-size " + std::to_string(s.range_size) +
                            " is larger than uid-pool-size " + std::to_string(s.uid_pool_size) +
                            "; no jail would get a range");
  if (static_cast<uint64_t>(s.uid_pool_start) + s.uid_pool_size > UINT32_MAX)
    p.Add("uid-pool-size",
          "uid-pool-start + uid-pool-size runs past the last id 4294967294; "
          "shrink the pool");
  if (s.read_group < -1 || s.read_group >= static_cast<int64_t>(UINT32_MAX))
    p.Add("read-group", "use a gid from 0 to 4294967294, or -1 for root only");
  if (std::string e = PlainAbsolutePathProblem(s.socket); !e.empty())
    p.Add("socket", "\"" + s.socket + "\" " + e + "; write e.g. \"/run/initos/jails.sock\"");
  if (s.log_ring_bytes < 4096)
    p.Add("log-ring-bytes", "at least 4096 bytes, so a jail's last lines are kept");
  if (s.log_file_bytes < 4096)
    p.Add("log-file-bytes", "at least 4096 bytes per file; write e.g. \"1M\"");
  if (s.mark_good_after_s < 0 || s.mark_good_after_s > 86400)
    p.Add("mark-good-after-s", "value " + std::to_string(s.mark_good_after_s) +
                                   " is out of range; use 0 (never) to 86400 seconds");
  if (s.log_files < 1 || s.log_files > 100)
    p.Add("log-files", "value " + std::to_string(s.log_files) +
                           " is out of range; use an integer from 1 to 100");
}

// start-after: each jail names at most one other, so a cycle is found by
// walking the chain from each jail; reported once, on its first member.
void CheckStartOrder(const std::vector<JailConfig>& jails, std::vector<Problems>& p) {
  auto find = [&](const std::string& name) -> int {
    for (size_t i = 0; i < jails.size(); ++i)
      if (jails[i].name == name) return static_cast<int>(i);
    return -1;
  };
  std::set<int> reported;
  for (size_t i = 0; i < jails.size(); ++i) {
    const std::string& after = jails[i].start_after;
    if (after.empty() || after == jails[i].name) continue;
    if (find(after) < 0) {
      p[i].Add("start-after", "no jail named \"" + after + "\"; name another [[jail]] entry");
      continue;
    }
    std::string path = jails[i].name;
    int cur = static_cast<int>(i);
    for (size_t steps = 0; steps <= jails.size(); ++steps) {
      cur = jails[cur].start_after.empty() ? -1 : find(jails[cur].start_after);
      if (cur < 0) break;
      path += " -> " + jails[cur].name;
      if (cur == static_cast<int>(i)) {
        if (!reported.contains(cur))
          p[i].Add("start-after", "start-after forms a cycle (" + path +
                                      "); no jail of it could start first: remove one "
                                      "start-after");
        break;
      }
      if (reported.contains(cur)) break;
    }
    if (cur == static_cast<int>(i)) {
      // Mark every member so the cycle is reported once.
      int m = static_cast<int>(i);
      do {
        reported.insert(m);
        m = find(jails[m].start_after);
      } while (m >= 0 && m != static_cast<int>(i));
    }
  }
}

bool Overlap(const IdRange& a, const IdRange& b) {
  return static_cast<uint64_t>(a.host) < static_cast<uint64_t>(b.host) + b.count &&
         static_cast<uint64_t>(b.host) < static_cast<uint64_t>(a.host) + a.count;
}

}  // namespace

std::string JailProblemKey(const JailConfig& jail, size_t index) {
  if (ValidateJailName(jail.name).ok()) return "jail." + jail.name;
  return "jail[" + std::to_string(index + 1) + "]";
}

std::vector<ConfigProblem> CheckJail(const JailConfig& j, size_t index, const Config& c,
                                     std::string_view file,
                                     const std::map<std::string, int>& lines) {
  std::vector<ConfigProblem> out;
  Problems p(file, JailProblemKey(j, index), lines, j.line, out);
  if (auto r = ValidateJailName(j.name); !r.ok())
    p.Add("name",
          j.name.empty() ? "required: name the jail, e.g. name = \"debian\"" : r.error().str());
  CheckRootfs(j, c, p);
  CheckProgram(j, p);
  if (j.kind == JailKind::kVm) {
    CheckIdMap(j, "uid-map", j.uid_map, p);
    CheckIdMap(j, "gid-map", j.gid_map, p);
    CheckVm(j, p);
  } else {
    CheckNoVmKeys(j, p);
    CheckConfinement(j, p);
    CheckMounts(j, p);
  }
  CheckLimits(j, p);
  CheckNetwork(j, p);
  CheckSupervision(j, p);
  return out;
}

std::vector<ConfigProblem> CheckJails(const Config& c, std::string_view file,
                                      const JailSourceLines& lines) {
  std::vector<ConfigProblem> out;
  static const std::map<std::string, int> kNone;
  const JailsConfig& s = c.jails;
  Problems section(file, "jails", lines.section, 0, out);
  CheckSection(s, section);
  for (size_t i = 0; i < s.jails.size(); ++i) {
    auto one =
        CheckJail(s.jails[i], i, c, file, i < lines.entries.size() ? lines.entries[i] : kNone);
    out.insert(out.end(), one.begin(), one.end());
  }
  std::vector<Problems> entries;
  for (size_t i = 0; i < s.jails.size(); ++i)
    entries.emplace_back(file, JailProblemKey(s.jails[i], i),
                         i < lines.entries.size() ? lines.entries[i] : kNone, s.jails[i].line, out);
  for (size_t i = 0; i < s.jails.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (!s.jails[i].name.empty() && s.jails[i].name == s.jails[k].name) {
        entries[i].Add("name",
                       "\"" + s.jails[i].name + "\" is already the name of the jail on line " +
                           std::to_string(s.jails[k].line) + "; give each jail its own name");
        break;
      }
  CheckStartOrder(s.jails, entries);
  // The host side of two veth pairs or taps cannot share a name (the
  // defaults are cut to 15 characters, so long names can collide): the
  // second jail would fail to start with EEXIST.
  auto host_link = [](const JailConfig& j) -> std::string {
    bool veth = j.network.kind == JailNetworkKind::kVeth;
    if (!veth && j.network.kind != JailNetworkKind::kTap) return "";
    if (!j.network.host_interface.empty()) return j.network.host_interface;
    return ((veth ? "ve-" : "tap-") + j.name).substr(0, 15);
  };
  for (size_t i = 0; i < s.jails.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (!host_link(s.jails[i]).empty() && host_link(s.jails[i]) == host_link(s.jails[k])) {
        entries[i].Add("host-interface",
                       "the host side \"" + host_link(s.jails[i]) + "\" is also jail \"" +
                           s.jails[k].name +
                           "\"'s; set host-interface to a name of its own (at most 15 characters)",
                       "network");
        break;
      }
  // One device or state disk in two VMs: VFIO hands a device to one owner,
  // and two guests writing one disk corrupt it.
  for (size_t i = 0; i < s.jails.size(); ++i) {
    const JailConfig& a = s.jails[i];
    if (a.kind != JailKind::kVm) continue;
    for (size_t k = 0; k < i; ++k) {
      const JailConfig& b = s.jails[k];
      if (b.kind != JailKind::kVm) continue;
      if (!a.vm.state_disk.empty() && a.vm.state_disk == b.vm.state_disk)
        entries[i].Add("state-disk", "\"" + a.vm.state_disk + "\" is also jail \"" + b.name +
                                         "\"'s state disk; give each VM its own");
      for (const std::string& d : a.devices)
        if (std::find(b.devices.begin(), b.devices.end(), d) != b.devices.end()) {
          entries[i].Add("devices", "\"" + d + "\" is also passed to jail \"" + b.name +
                                        "\"; a device belongs to one VM, remove it from one");
          break;
        }
    }
  }
  // Explicit maps of two jails on the same host ids would let one jail's
  // root own the other's files.
  for (size_t i = 0; i < s.jails.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      for (auto [key, a, b] : {std::tuple{"uid-map", s.jails[i].uid_map, s.jails[k].uid_map},
                               std::tuple{"gid-map", s.jails[i].gid_map, s.jails[k].gid_map}})
        if (a && b && a->count && b->count && Overlap(*a, *b))
          entries[i].Add(key, std::string("host ids overlap those of jail \"") + s.jails[k].name +
                                  "\"; give each jail its own range");
  return out;
}

std::vector<ConfigProblem> CheckJailsForBoot(const Config& c, std::string_view file) {
  std::vector<ConfigProblem> out;
  if (DevelopmentMode(c)) return out;
  for (size_t i = 0; i < c.jails.jails.size(); ++i) {
    const JailConfig& j = c.jails.jails[i];
    if (!JailRootfsIsDirectory(j)) continue;
    out.push_back(ConfigProblem{
        std::string(file), j.line, JailProblemKey(j, i) + ".rootfs",
        "directory \"" + j.rootfs + "\" is not verified, so PID 1 refuses it; use " +
            std::string(kBundleHint) +
            " (a directory runs only with rootfs.insecure-dev-mode = true or `initos jail run`)",
        true});
  }
  return out;
}

}  // namespace format
}  // namespace initos
