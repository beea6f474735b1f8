// The `[jails]` section and the `[[jail]]` entries of the config: what PID 1
// runs in jail mode (init.mode = "jails") and `initos jail run` on a
// development host. Pure data and validation, no syscalls; every key is
// documented in configs/jails.toml. Every problem in a jail entry is fatal:
// a jail's keys decide what runs and how confined it is, so PID 1 never
// starts a jail on a default it fell back to.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

enum class JailKind { kPrivileged, kUnprivileged, kVm };
enum class RestartPolicy { kNever, kOnFailure, kAlways };
// kUser and kTap are for kind = "vm" only: QEMU's user-mode network
// (slirp, outbound only) or a tap device the supervisor creates.
enum class JailNetworkKind { kNone, kLoopback, kVeth, kMacvlan, kUser, kTap };

// A contiguous id range: inside ids [0, count) are host ids [host, host+count).
struct IdRange {
  uint32_t host = 0;
  uint32_t count = 0;
  bool operator==(const IdRange&) const = default;
};

struct JailMount {
  enum class Type { kBind, kTmpfs };
  Type type = Type::kBind;
  std::string source;     // host path (bind); "" for tmpfs
  std::string target;     // absolute path inside the jail's rootfs
  bool read_only = true;  // bind mounts are read-only unless said otherwise
  std::string size;       // tmpfs size ("64m"); "" = kernel default
  bool operator==(const JailMount&) const = default;
};

struct JailNetwork {
  JailNetworkKind kind = JailNetworkKind::kNone;
  // veth: the host side's name (default "ve-" + jail name, cut to 15
  // chars); macvlan: the host NIC the macvlan hangs off (required).
  std::string host_interface;
  std::string host_address;            // veth: host side "CIDR", e.g. "10.0.0.1/30"
  std::vector<std::string> addresses;  // inside the jail, "CIDR" each
  std::string gateway;                 // inside: default route via this address ("" = none)
  std::vector<std::string> routes;     // inside: extra "CIDR" or "CIDR via ADDR"
  bool operator==(const JailNetwork&) const = default;
};

// cgroup v2 limits; unset means the controller's default (no limit).
struct JailLimits {
  std::optional<uint64_t> memory_max;   // bytes ("512M" accepted in TOML)
  std::optional<uint64_t> memory_high;  // bytes
  std::optional<uint64_t> pids_max;
  std::string cpu_max;                 // "QUOTA PERIOD" or "max PERIOD" as cpu.max takes it
  std::optional<uint32_t> cpu_weight;  // 1..10000
  std::vector<std::string> io_max;     // lines as io.max takes them: "MAJ:MIN rbps=N ..."
  bool operator==(const JailLimits&) const = default;
};

struct Rlimit {
  uint64_t soft = 0;
  uint64_t hard = 0;  // UINT64_MAX = unlimited
  bool operator==(const Rlimit&) const = default;
};

// kind = "vm" (issue 11, docs/vm-jails.md): the machine QEMU emulates. The
// jail's rootfs bundle is the guest's verified root (virtio-blk, read-only),
// command is what the guest runs as its PID 1 after initos in the guest
// verified it (an OS: its init), `devices` are PCI addresses passed through
// with VFIO, and network is "none", "user" or "tap".
inline constexpr const char* kDefaultVmKernel = "/usr/lib/initos/vm/vmlinuz";

struct JailVm {
  std::string machine = "microvm";  // "microvm" or "q35" (VFIO passthrough needs q35)
  int cpus = 1;                     // 1..64
  uint64_t memory = 512ull << 20;   // bytes ("512M" in TOML), 64M..1T
  std::string accel = "auto";       // "auto" (KVM when it really works, else TCG), "kvm", "tcg"
  // bzImage the guest boots; "" = kDefaultVmKernel (shipped beside initos).
  std::string kernel;
  // The guest kernel's module tree (with modules.dep); "" = from the
  // kernel's version: /usr/lib/initos/vm/modules/VER, else /lib/modules/VER.
  std::string kernel_modules;
  std::vector<std::string> kernel_args;  // appended to the guest's kernel command line
  // Writable raw disk for the guest's state partition (file or block
  // device, absolute path); "" = none (the guest's changes live in RAM).
  std::string state_disk;
  // virtio vsock: readiness, `initos jail exec` and a clean poweroff. Needs
  // /dev/vhost-vsock on the host (vhost_vsock); false = console only.
  bool vsock = true;
  bool operator==(const JailVm&) const = default;
};

struct JailConfig {
  std::string name;  // [a-z0-9][a-z0-9_-]{0,31}
  JailKind kind = JailKind::kUnprivileged;
  // A signed bundle, with the locators of rootfs.image ("PARTLABEL=x",
  // "LABEL=x:/path/f.bundle"), verified with rootfs.keys and the version
  // floor; or an absolute directory (development only: refused in PID 1
  // outside development mode).
  std::string rootfs;
  std::string rootfs_name;  // manifest name a bundle must carry (required for bundles)
  // A/B slots instead of rootfs (issue 12, docs/upgrades.md "Jail slots"):
  // two bundle locators in rootfs' syntax; the record is
  // STATE/initos/jails/NAME/boot-state, so a state partition is required.
  std::vector<std::string> rootfs_slots;
  std::optional<uint32_t> rootfs_tries;  // trial starts of a new slot; default rootfs.tries
  // Upper layer of the jail's overlay: "tmpfs" (default, nothing survives a
  // restart) or "state" (STATE/jails/NAME/upper on the state partition).
  std::string upper = "tmpfs";
  std::vector<std::string> command;               // argv of the app (for an OS: its init)
  bool reaper = false;                            // initos' tini-compatible reaper is PID 1
  std::vector<std::vector<std::string>> helpers;  // each execs the rest: helper1 → helper2 → app
  std::map<std::string, std::string> env;
  std::string hostname;            // default: name
  std::string user = "0";          // inside the jail: number or name (from the rootfs' /etc/passwd)
  std::string group = "0";         // number or name (/etc/group); default: the user's group
  std::optional<IdRange> uid_map;  // unprivileged only; default: a free range of the pool
  std::optional<IdRange> gid_map;  // default: the uid map
  std::vector<std::string> capabilities;  // kept, everything else dropped ("CAP_" optional)
  std::string seccomp = "default";        // "default", "unconfined" (privileged only), or a file
  bool no_new_privileges = true;
  JailLimits limits;
  std::map<std::string, Rlimit> rlimits;  // "nofile", "nproc", ... (RLIMIT_ without prefix)
  std::vector<JailMount> mounts;
  // Device nodes granted (absolute /dev paths). Always present: the default
  // set (kDefaultJailDevices); others only for privileged jails. kind =
  // "vm": PCI addresses ("0000:01:00.0") handed to the guest with VFIO.
  std::vector<std::string> devices;
  JailNetwork network;
  RestartPolicy restart = RestartPolicy::kOnFailure;
  int restart_delay_ms = 1000;  // first delay, doubled each restart up to restart_max_delay_ms
  int restart_max_delay_ms = 30000;
  int restart_limit = 5;  // restarts within restart_window_s, then it stays down
  int restart_window_s = 60;
  int stop_signal = 15;  // SIGTERM; "SIGRTMIN+3" for systemd
  int stop_timeout_ms = 10000;
  std::string start_after;  // another jail's name ("" = none)
  JailVm vm;                // kind = "vm" only
  int line = 0;             // where the entry starts in the file, for messages
  bool operator==(const JailConfig&) const = default;
};

inline constexpr const char* kDefaultJailDevices[] = {"/dev/null",    "/dev/zero",    "/dev/full",
                                                      "/dev/random",  "/dev/urandom", "/dev/tty",
                                                      "/dev/console", "/dev/ptmx"};

struct JailsConfig {
  // Host uid/gid pool unprivileged jails get their ranges from when they
  // name none: [uid_pool_start, uid_pool_start + uid_pool_size), one
  // range_size block per jail. Never includes host id 0.
  uint32_t uid_pool_start = 100000;
  uint32_t uid_pool_size = 65536 * 32;
  uint32_t range_size = 65536;
  // Members of this host group (gid) may list, status and logs over the
  // control socket; -1 = root only.
  int64_t read_group = -1;
  // In its own directory: jail mode binds the directory into the SSH
  // sidecar, and a re-created socket must show up there.
  std::string socket = "/run/initos/control/jails.sock";
  uint64_t log_ring_bytes = 64 * 1024;    // per jail, in memory
  uint64_t log_file_bytes = 1024 * 1024;  // per file on the state partition
  int log_files = 3;                      // rotated files kept per jail
  // A/B slots (docs/upgrades.md): once every jail has run this long without
  // a restart, the supervisor marks the booted slot good. 0 = never (an
  // admin or the fleet tool runs `initos upgrade mark-good`).
  int mark_good_after_s = 0;
  std::vector<JailConfig> jails;  // in config order (start order, with start-after)
  bool operator==(const JailsConfig&) const = default;
};

std::string_view JailKindName(JailKind v);
std::string_view RestartPolicyName(RestartPolicy v);
std::string_view JailNetworkKindName(JailNetworkKind v);

// True when rootfs names a directory (development) rather than a bundle.
bool JailRootfsIsDirectory(const JailConfig& jail);

// The jail's process chain as exec'd inside it, without the reaper:
// helper1 + helper2 + ... + command (each helper execs its trailing
// arguments, `exec "$@"` style). Pure.
std::vector<std::string> JailChainArgv(const JailConfig& jail);

// The keys of [jails] and of one [[jail]] entry as written in TOML, in
// documentation order (did-you-mean, docs and tests). None of them can come
// from the kernel command line, not even in development mode.
std::vector<std::string_view> JailsSectionKeys();
std::vector<std::string_view> JailEntryKeys();

// ---- value syntax (pure; each error says what a correct value looks like) --

// Bytes: "4096", "512K", "512M", "2G", "1T" (binary units, 1K = 1024).
Result<uint64_t> ParseByteSize(std::string_view s);
// An rlimit as written in TOML strings: "N", "unlimited" or "SOFT:HARD"
// (each N or "unlimited"); unlimited = UINT64_MAX.
Result<Rlimit> ParseRlimit(std::string_view s);
// RLIMIT_* number for "nofile", "nproc", ... (lower case, no prefix).
std::optional<int> RlimitFromName(std::string_view name);
// [a-z0-9][a-z0-9_-]{0,31}: safe in paths, cgroup and interface names.
Result<void> ValidateJailName(std::string_view name);
// Numeric IPv4 or IPv6 address without a prefix.
Result<void> ValidateIpAddress(std::string_view addr);
// "ADDR/PREFIX", IPv4 (prefix 0..32) or IPv6 (0..128).
Result<void> ValidateCidr(std::string_view cidr);
// "CIDR" or "CIDR via ADDR" (same address family).
Result<void> ValidateRoute(std::string_view route);
// RFC 1123 host name, at most 64 characters.
Result<void> ValidateHostname(std::string_view name);
// A user or group inside the jail: a number (0..4294967294) or a name.
Result<void> ValidateJailAccount(std::string_view account);
// Environment variable name: letters, digits, _ (not starting with a digit).
Result<void> ValidateEnvName(std::string_view name);
// Network interface name: 1..15 characters, no '/', ':' or whitespace.
Result<void> ValidateInterfaceName(std::string_view name);
// cpu.max: "QUOTA PERIOD", "max PERIOD", "QUOTA" or "max".
Result<void> ValidateCpuMax(std::string_view value);
// One io.max line: "MAJ:MIN KEY=VALUE..." with rbps, wbps, riops, wiops.
Result<void> ValidateIoMax(std::string_view line);
// tmpfs size=: "N", "N[kmg]" or "N%".
Result<void> ValidateTmpfsSize(std::string_view size);
// A PCI function as sysfs names it (kind = "vm" devices, VFIO):
// "DDDD:BB:DD.F", lower-case hex (a domain of 4 to 8 digits), device
// 00..1f, function 0..7.
Result<void> ValidatePciAddress(std::string_view address);

}  // namespace format
}  // namespace initos
