#include "format/jail_config.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>

#include "base/file.h"
#include "format/config.h"
#include "format/jail_check.h"

namespace initos {
namespace {

std::string Joined(const std::vector<ConfigProblem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.str() + "\n";
  return s;
}

// ---- values ----------------------------------------------------------------

TEST(JailValuesTest, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("512K"), 512u << 10);
  EXPECT_EQ(*ParseByteSize("512M"), 512u << 20);
  EXPECT_EQ(*ParseByteSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseByteSize("1T"), 1ull << 40);
  for (const char* bad :
       {"", "M", "1.5G", "-1", "1m", "1KB", "1 G", "99999999999999999999", "20000000T"})
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
  EXPECT_NE(ParseByteSize("1X").error().message.find("\"512M\""), std::string::npos);
}

TEST(JailValuesTest, Rlimits) {
  EXPECT_EQ(*ParseRlimit("1024"), (Rlimit{1024, 1024}));
  EXPECT_EQ(*ParseRlimit("1024:4096"), (Rlimit{1024, 4096}));
  EXPECT_EQ(*ParseRlimit("unlimited"), (Rlimit{UINT64_MAX, UINT64_MAX}));
  EXPECT_EQ(*ParseRlimit("0:unlimited"), (Rlimit{0, UINT64_MAX}));
  for (const char* bad : {"", ":", "1:", ":1", "lots", "1:2:3", "-1", "infinity"})
    EXPECT_FALSE(ParseRlimit(bad).ok()) << bad;
  EXPECT_EQ(RlimitFromName("nofile"), RLIMIT_NOFILE);
  EXPECT_EQ(RlimitFromName("as"), RLIMIT_AS);
  EXPECT_EQ(RlimitFromName("rttime"), RLIMIT_RTTIME);
  EXPECT_EQ(RlimitFromName("NOFILE"), std::nullopt);
  EXPECT_EQ(RlimitFromName("RLIMIT_NOFILE"), std::nullopt);
  for (const char* n : {"nofile", "nproc", "core", "memlock", "stack", "as", "fsize", "cpu", "data",
                        "msgqueue", "nice", "rtprio", "sigpending", "locks", "rss", "rttime"})
    EXPECT_TRUE(RlimitFromName(n)) << n;
}

TEST(JailValuesTest, Names) {
  for (const char* good : {"a", "0", "debian", "web_1", "a-b", "abcdefghijklmnopqrstuvwxyz012345"})
    EXPECT_TRUE(ValidateJailName(good).ok()) << good;
  for (const char* bad :
       {"", "-a", "_a", "Debian", "a.b", "a/b", "a b", "abcdefghijklmnopqrstuvwxyz0123456"})
    EXPECT_FALSE(ValidateJailName(bad).ok()) << bad;
  for (const char* good : {"a", "web-1", "host.example.org", "A1"})
    EXPECT_TRUE(ValidateHostname(good).ok()) << good;
  for (const std::string& bad :
       std::vector<std::string>{"", "-a", "a-", "a..b", ".a", "a_b", "a b", std::string(65, 'a')})
    EXPECT_FALSE(ValidateHostname(bad).ok()) << bad;
  EXPECT_TRUE(ValidateHostname(std::string(63, 'a')).ok());
  for (const char* good : {"0", "1000", "4294967294", "www-data", "_apt", "user$"})
    EXPECT_TRUE(ValidateJailAccount(good).ok()) << good;
  for (const char* bad : {"", "4294967295", "99999999999", "Root", "a b", "a:b", "-x", "1x"})
    EXPECT_FALSE(ValidateJailAccount(bad).ok()) << bad;
  EXPECT_TRUE(ValidateEnvName("PATH").ok());
  EXPECT_TRUE(ValidateEnvName("_x1").ok());
  for (const char* bad : {"", "1A", "A-B", "A=B", "A B"}) EXPECT_FALSE(ValidateEnvName(bad).ok());
  for (const char* good : {"eth0", "ve-debian", "123456789012345"})
    EXPECT_TRUE(ValidateInterfaceName(good).ok()) << good;
  for (const char* bad : {"", ".", "..", "a/b", "a:1", "a b", "1234567890123456"})
    EXPECT_FALSE(ValidateInterfaceName(bad).ok()) << bad;
}

TEST(JailValuesTest, Addresses) {
  for (const char* good :
       {"10.0.0.2/24", "0.0.0.0/0", "1.2.3.4/32", "fd00::2/64", "::/0", "2001:db8::1/128"})
    EXPECT_TRUE(ValidateCidr(good).ok()) << good;
  for (const char* bad : {"10.0.0.2", "10.0.0.2/", "10.0.0.2/33", "fd00::1/129", "10.0.0.300/8",
                          "host/24", "10.0.0.2/-1", "10.0.0.2/1a", "/24"})
    EXPECT_FALSE(ValidateCidr(bad).ok()) << bad;
  EXPECT_TRUE(ValidateIpAddress("10.0.0.1").ok());
  EXPECT_TRUE(ValidateIpAddress("fe80::1").ok());
  EXPECT_FALSE(ValidateIpAddress("10.0.0.1/24").ok());
  EXPECT_FALSE(ValidateIpAddress("gateway").ok());
  for (const char* good : {"10.1.0.0/16", "10.1.0.0/16 via 10.0.0.1", "::/0 via fd00::1"})
    EXPECT_TRUE(ValidateRoute(good).ok()) << good;
  for (const char* bad : {"10.1.0.0", "10.1.0.0/16 via", "10.1.0.0/16 via x",
                          "10.1.0.0/16 via fd00::1", "::/0 via 10.0.0.1", "10.1.0.0/16 gw 1.2.3.4"})
    EXPECT_FALSE(ValidateRoute(bad).ok()) << bad;
}

TEST(JailValuesTest, CgroupAndTmpfsValues) {
  for (const char* good : {"max", "50000", "50000 100000", "max 100000", "1 1000"})
    EXPECT_TRUE(ValidateCpuMax(good).ok()) << good;
  for (const char* bad : {"", "0", "half", "50000 10", "50000 2000000", "50000  100000", "max max"})
    EXPECT_FALSE(ValidateCpuMax(bad).ok()) << bad;
  for (const char* good : {"8:0 rbps=1048576", "254:16 rbps=max wiops=100 wbps=1 riops=2"})
    EXPECT_TRUE(ValidateIoMax(good).ok()) << good;
  for (const char* bad : {"", "8:0", "sda rbps=1", "8 rbps=1", "8:0 rbps", "8:0 speed=1",
                          "8:0 rbps=fast", "8:0 rbps=1 "})
    EXPECT_FALSE(ValidateIoMax(bad).ok()) << bad;
  for (const char* good : {"65536", "64m", "1G", "10%", "512k"})
    EXPECT_TRUE(ValidateTmpfsSize(good).ok()) << good;
  for (const char* bad : {"", "m", "big", "1.5g", "-1", "10%%"})
    EXPECT_FALSE(ValidateTmpfsSize(bad).ok()) << bad;
}

TEST(JailValuesTest, PciAddresses) {
  for (const char* good : {"0000:00:00.0", "0000:01:00.0", "abcd:ef:1f.7", "ffff:ff:10.3",
                           "10000:00:02.0", "ffffffff:00:00.0"})
    EXPECT_TRUE(ValidatePciAddress(good).ok()) << good;
  for (const char* bad :
       {"", "01:00.0", "0000:01:00", "0000:01:00.8", "0000:01:20.0", "0000:0A:00.0", "0000-01-00.0",
        "0000:01:00.0 ", "000:01:00.0", "100000000:01:00.0", ":01:00.0", "0000:01:0g.0",
        "/dev/vfio/1", "0000:01:00.0,x=1"})
    EXPECT_FALSE(ValidatePciAddress(bad).ok()) << bad;
  EXPECT_NE(ValidatePciAddress("1:0.0").error().str().find("e.g. \"0000:01:00.0\""),
            std::string::npos);
}

TEST(JailValuesTest, ChainArgvAndNames) {
  JailConfig j;
  EXPECT_TRUE(JailChainArgv(j).empty());
  j.command = {"/bin/app", "--x"};
  EXPECT_EQ(JailChainArgv(j), (std::vector<std::string>{"/bin/app", "--x"}));
  j.helpers = {{"/bin/nice", "-n", "5"}, {"/bin/env", "A=b"}};
  EXPECT_EQ(JailChainArgv(j), (std::vector<std::string>{"/bin/nice", "-n", "5", "/bin/env", "A=b",
                                                        "/bin/app", "--x"}));
  EXPECT_EQ(JailKindName(JailKind::kUnprivileged), "unprivileged");
  EXPECT_EQ(RestartPolicyName(RestartPolicy::kOnFailure), "on-failure");
  EXPECT_EQ(JailNetworkKindName(JailNetworkKind::kMacvlan), "macvlan");
  j.rootfs = "/srv/jail";
  EXPECT_TRUE(JailRootfsIsDirectory(j));
  j.rootfs = "PARTLABEL=jail";
  EXPECT_FALSE(JailRootfsIsDirectory(j));
}

// ---- parsing -----------------------------------------------------------------

TEST(JailParseTest, EveryKeyIsParsed) {
  const std::string toml = R"([state]
device = "PARTLABEL=state"

[jails]
uid-pool-start = 200000
uid-pool-size = 1048576
range-size = 4096
read-group = 4
socket = "/run/initos/j.sock"
log-ring-bytes = "128K"
log-file-bytes = 2097152
log-files = 7
mark-good-after-s = 120

[[jail]]
name = "os"
kind = "unprivileged"
rootfs = "LABEL=images:/jails/os.bundle"
rootfs-name = "debian"
upper = "state"
command = ["/lib/systemd/systemd", "--log-level=info"]
reaper = true
helpers = [["/bin/nice", "-n", "5"], ["/bin/env", "A=b"]]
env = {LANG = "C.UTF-8", TERM = "linux"}
hostname = "os-1"
user = "www-data"
group = 33
uid-map = {host = 300000, count = 65536}
gid-map = {host = 400000, count = 1000}
capabilities = ["NET_BIND_SERVICE", "CAP_CHOWN"]
seccomp = "/etc/initos/seccomp/os.json"
no-new-privileges = false
memory-max = "2G"
memory-high = 1073741824
pids-max = 512
cpu-max = "50000 100000"
cpu-weight = 200
io-max = ["8:0 rbps=1048576", "8:16 wiops=100"]
rlimits = {nofile = "1024:4096", core = 0, stack = "unlimited"}
mounts = [
  {type = "bind", source = "/srv/data", target = "/data", read-only = false},
  {type = "tmpfs", target = "/scratch", size = "64m"},
  {source = "/srv/ro", target = "/ro"},
]
devices = ["/dev/null"]
network = "veth"
host-interface = "ve-os"
host-address = "10.0.0.1/30"
addresses = ["10.0.0.2/30", "fd00::2/64"]
gateway = "10.0.0.1"
routes = ["192.168.0.0/16 via 10.0.0.1", "fd01::/64"]
restart = "always"
restart-delay-ms = 200
restart-max-delay-ms = 5000
restart-limit = 9
restart-window-s = 120
stop-signal = "SIGRTMIN+3"
stop-timeout-ms = 20000
start-after = "hw"

[[jail]]
name = "hw"
kind = "privileged"
rootfs = "PARTLABEL=hw"
rootfs-name = "hw-os"
command = ["/sbin/init"]
seccomp = "unconfined"
devices = ["/dev/dri/card0", "/dev/fuse"]
network = "macvlan"
host-interface = "eth0"
addresses = ["192.168.1.50/24"]

[[jail]]
name = "web"
rootfs-slots = ["LABEL=state:/jails/web-a.bundle", "PARTLABEL=web-b"]
rootfs-tries = 2
rootfs-name = "web"
command = ["/bin/httpd"]

[[jail]]
name = "vm1"
kind = "vm"
rootfs = "PARTLABEL=vm1"
rootfs-name = "vm-os"
command = ["/sbin/init", "splash"]
uid-map = {host = 500000, count = 65536}
machine = "q35"
cpus = 4
memory = "2G"
accel = "kvm"
kernel = "/usr/lib/initos/vm/vmlinuz-6.1"
kernel-modules = "/usr/lib/initos/vm/modules/6.1"
kernel-args = ["quiet", "loglevel=4"]
state-disk = "/dev/disk/by-partlabel/vm1-state"
vsock = false
devices = ["0000:01:00.0", "0000:02:1f.7"]
network = "tap"
host-interface = "tap-vm1"
host-address = "10.0.1.1/30"
memory-max = "3G"
)";
  ParsedConfig p = ParseConfig(toml, "jails.toml");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  const JailsConfig& s = p.config.jails;
  EXPECT_EQ(s.uid_pool_start, 200000u);
  EXPECT_EQ(s.uid_pool_size, 1048576u);
  EXPECT_EQ(s.range_size, 4096u);
  EXPECT_EQ(s.read_group, 4);
  EXPECT_EQ(s.socket, "/run/initos/j.sock");
  EXPECT_EQ(s.log_ring_bytes, 128u * 1024);
  EXPECT_EQ(s.log_file_bytes, 2097152u);
  EXPECT_EQ(s.log_files, 7);
  EXPECT_EQ(s.mark_good_after_s, 120);
  ASSERT_EQ(s.jails.size(), 4u);
  const JailConfig& vm = s.jails[3];
  EXPECT_EQ(vm.kind, JailKind::kVm);
  JailVm want_vm;
  want_vm.machine = "q35";
  want_vm.cpus = 4;
  want_vm.memory = 2ull << 30;
  want_vm.accel = "kvm";
  want_vm.kernel = "/usr/lib/initos/vm/vmlinuz-6.1";
  want_vm.kernel_modules = "/usr/lib/initos/vm/modules/6.1";
  want_vm.kernel_args = {"quiet", "loglevel=4"};
  want_vm.state_disk = "/dev/disk/by-partlabel/vm1-state";
  want_vm.vsock = false;
  EXPECT_EQ(vm.vm, want_vm);
  EXPECT_EQ(vm.devices, (std::vector<std::string>{"0000:01:00.0", "0000:02:1f.7"}));
  EXPECT_EQ(vm.network.kind, JailNetworkKind::kTap);
  EXPECT_EQ(vm.network.host_interface, "tap-vm1");
  EXPECT_EQ(vm.network.host_address, "10.0.1.1/30");
  EXPECT_EQ(vm.uid_map, (IdRange{500000, 65536}));
  // The containers keep the VM defaults.
  EXPECT_EQ(s.jails[0].vm, JailVm{});
  EXPECT_EQ(s.jails[2].rootfs_slots,
            (std::vector<std::string>{"LABEL=state:/jails/web-a.bundle", "PARTLABEL=web-b"}));
  EXPECT_EQ(s.jails[2].rootfs_tries, 2u);
  EXPECT_TRUE(s.jails[2].rootfs.empty());
  EXPECT_FALSE(s.jails[1].rootfs_tries);

  JailConfig os;
  os.name = "os";
  os.kind = JailKind::kUnprivileged;
  os.rootfs = "LABEL=images:/jails/os.bundle";
  os.rootfs_name = "debian";
  os.upper = "state";
  os.command = {"/lib/systemd/systemd", "--log-level=info"};
  os.reaper = true;
  os.helpers = {{"/bin/nice", "-n", "5"}, {"/bin/env", "A=b"}};
  os.env = {{"LANG", "C.UTF-8"}, {"TERM", "linux"}};
  os.hostname = "os-1";
  os.user = "www-data";
  os.group = "33";
  os.uid_map = IdRange{300000, 65536};
  os.gid_map = IdRange{400000, 1000};
  os.capabilities = {"NET_BIND_SERVICE", "CAP_CHOWN"};
  os.seccomp = "/etc/initos/seccomp/os.json";
  os.no_new_privileges = false;
  os.limits.memory_max = 2ull << 30;
  os.limits.memory_high = 1ull << 30;
  os.limits.pids_max = 512;
  os.limits.cpu_max = "50000 100000";
  os.limits.cpu_weight = 200;
  os.limits.io_max = {"8:0 rbps=1048576", "8:16 wiops=100"};
  os.rlimits = {{"nofile", {1024, 4096}}, {"core", {0, 0}}, {"stack", {UINT64_MAX, UINT64_MAX}}};
  os.mounts = {{JailMount::Type::kBind, "/srv/data", "/data", false, ""},
               {JailMount::Type::kTmpfs, "", "/scratch", true, "64m"},
               {JailMount::Type::kBind, "/srv/ro", "/ro", true, ""}};
  os.devices = {"/dev/null"};
  os.network = {
      JailNetworkKind::kVeth,        "ve-os",    "10.0.0.1/30",
      {"10.0.0.2/30", "fd00::2/64"}, "10.0.0.1", {"192.168.0.0/16 via 10.0.0.1", "fd01::/64"}};
  os.restart = RestartPolicy::kAlways;
  os.restart_delay_ms = 200;
  os.restart_max_delay_ms = 5000;
  os.restart_limit = 9;
  os.restart_window_s = 120;
  os.stop_signal = SIGRTMIN + 3;
  os.stop_timeout_ms = 20000;
  os.start_after = "hw";
  os.line = 15;
  EXPECT_EQ(s.jails[0], os);

  const JailConfig& hw = s.jails[1];
  EXPECT_EQ(hw.name, "hw");
  EXPECT_EQ(hw.kind, JailKind::kPrivileged);
  EXPECT_EQ(hw.seccomp, "unconfined");
  EXPECT_EQ(hw.devices, (std::vector<std::string>{"/dev/dri/card0", "/dev/fuse"}));
  EXPECT_EQ(hw.network.kind, JailNetworkKind::kMacvlan);
  EXPECT_EQ(hw.network.host_interface, "eth0");
  EXPECT_EQ(hw.line, 61);
  // Defaults of keys the entry leaves out.
  EXPECT_EQ(hw.upper, "tmpfs");
  EXPECT_EQ(hw.user, "0");
  EXPECT_TRUE(hw.no_new_privileges);
  EXPECT_EQ(hw.restart, RestartPolicy::kOnFailure);
  EXPECT_EQ(hw.stop_signal, SIGTERM);
  EXPECT_FALSE(hw.uid_map);

  // The test above names every key, so a new key cannot go untested.
  for (auto k : JailEntryKeys())
    EXPECT_NE(toml.find("\n" + std::string(k) + " = "), std::string::npos) << k;
  for (auto k : JailsSectionKeys())
    EXPECT_NE(toml.find("\n" + std::string(k) + " = "), std::string::npos) << k;
}

TEST(JailParseTest, NoJailsMeansDefaults) {
  ParsedConfig p = ParseConfig("[jails]\n", "f");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.jails, JailsConfig{});
}

// A jail entry built from key = value lines: name, rootfs and command are
// filled in unless the case sets them ("-" leaves a key out). Line 1 is
// [[jail]] after `prefix`.
struct Entry {
  std::string text;
  std::map<std::string, int> line;
  int header = 0;
};

Entry MakeEntry(std::vector<std::pair<std::string, std::string>> kv, const std::string& prefix) {
  for (auto [k, v] : {std::pair<std::string, std::string>{"name", "\"a\""},
                      {"rootfs", "\"/srv/a\""},
                      {"command", "[\"/bin/app\"]"}}) {
    bool set = false;
    for (const auto& e : kv) set = set || e.first == k;
    if (!set) kv.insert(kv.begin(), {k, v});
  }
  Entry e;
  e.text = prefix;
  int line = static_cast<int>(std::count(prefix.begin(), prefix.end(), '\n')) + 1;
  e.header = line;
  e.text += "[[jail]]\n";
  for (const auto& [k, v] : kv) {
    if (v == "-") continue;
    e.line[k] = ++line;
    e.text += k + " = " + v + "\n";
  }
  return e;
}

struct Case {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string key;       // leaf of the problem's key ("jail.a." is added), or a full "jail[1]..."
  std::string line_key;  // whose line the problem is on ("" = the [[jail]] header)
  std::string message;   // a part of the message
  std::string prefix = "";  // text before [[jail]] (e.g. [state])
};

void ExpectOneProblem(const Case& c) {
  Entry e = MakeEntry(c.kv, c.prefix);
  ParsedConfig p = ParseConfig(e.text, "jails.toml");
  ASSERT_EQ(p.problems.size(), 1u) << e.text << Joined(p.problems);
  const ConfigProblem& pr = p.problems[0];
  std::string key = c.key.starts_with("jail[") ? c.key : "jail.a." + c.key;
  EXPECT_EQ(pr.key, key) << e.text;
  EXPECT_EQ(pr.file, "jails.toml");
  EXPECT_NE(pr.message.find(c.message), std::string::npos)
      << e.text << "want: " << c.message << "\ngot:  " << pr.message;
  EXPECT_EQ(pr.line, c.line_key.empty() ? e.header : e.line.at(c.line_key)) << e.text << pr.str();
  EXPECT_TRUE(pr.fatal) << pr.str();
  // One line, with a fix after the problem.
  EXPECT_EQ(pr.str().find('\n'), std::string::npos);
}

TEST(JailParseTest, BaseEntryIsValid) {
  Entry e = MakeEntry({}, "");
  ParsedConfig p = ParseConfig(e.text, "f");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  ASSERT_EQ(p.config.jails.jails.size(), 1u);
  EXPECT_EQ(p.config.jails.jails[0].line, 1);
}

TEST(JailParseTest, IdentityAndRootfsProblems) {
  const std::string state = "[state]\ndevice = \"PARTLABEL=state\"\n";
  for (const Case& c : std::vector<Case>{
           {{{"name", "\"Bad!\""}}, "jail[1].name", "name", "is not a jail name"},
           {{{"name", "\"\""}}, "jail[1].name", "name", "required: name the jail"},
           {{{"name", "-"}}, "jail[1].name", "", "required: name the jail"},
           {{{"name", "7"}}, "jail[1].name", "name", "wrong type: got integer, expected a string"},
           {{{"kind", "\"root\""}},
            "kind",
            "kind",
            "unknown value \"root\"; expected one of privileged, unprivileged, vm"},
           {{{"rootfs", "-"}}, "rootfs", "", "required: a signed bundle"},
           {{{"rootfs", "\"srv/a\""}}, "rootfs", "rootfs", "invalid image \"srv/a\""},
           {{{"rootfs", "\"/\""}}, "rootfs", "rootfs", "the host's own root"},
           {{{"rootfs", "\"/srv/../a\""}}, "rootfs", "rootfs", "contains \"..\""},
           {{{"rootfs", "\"LABEL=imgs\""}}, "rootfs", "rootfs", "names a filesystem, not a bundle"},
           {{{"rootfs", "\"LABEL=imgs:/a.img\""}}, "rootfs", "rootfs", "does not end in .bundle"},
           {{{"rootfs", "\"PARTLABEL=a\""}},
            "rootfs-name",
            "rootfs",
            "required with a bundle rootfs"},
           {{{"rootfs", "\"PARTLABEL=a\""}, {"rootfs-name", "\"my os\""}},
            "rootfs-name",
            "rootfs-name",
            "is not an image name"},
           {{{"rootfs", "\"PARTLABEL=a\""}, {"rootfs-name", "\"a\""}, {"upper", "\"state\""}},
            "upper",
            "upper",
            "state.device is not set"},
           {{{"rootfs", "\"PARTLABEL=a\""}, {"rootfs-name", "\"a\""}, {"upper", "\"disk\""}},
            "upper",
            "upper",
            "unknown value \"disk\"; expected one of tmpfs, state",
            state},
           {{{"comand", "[\"/bin/x\"]"}}, "comand", "comand", "did you mean command?"},
           {{{"restart-delay", "5"}},
            "restart-delay",
            "restart-delay",
            "did you mean restart-delay-ms?"},
           {{{"start-after", "\"a\""}}, "start-after", "start-after", "names the jail itself"},
           {{{"start-after", "\"b\""}}, "start-after", "start-after", "no jail named \"b\""},
       })
    ExpectOneProblem(c);
  // upper = "state" with a state partition is fine.
  Entry ok = MakeEntry(
      {{"rootfs", "\"PARTLABEL=a\""}, {"rootfs-name", "\"a\""}, {"upper", "\"state\""}}, state);
  EXPECT_TRUE(ParseConfig(ok.text, "f").problems.empty());
}

TEST(JailParseTest, RootfsSlotsProblems) {
  const std::string state = "[state]\ndevice = \"PARTLABEL=state\"\n";
  const std::string two = "[\"LABEL=state:/jails/a-a.bundle\", \"PARTLABEL=a-b\"]";
  for (const Case& c : std::vector<Case>{
           {{{"rootfs", "\"PARTLABEL=a\""}, {"rootfs-name", "\"a\""}, {"rootfs-slots", two}},
            "rootfs-slots",
            "rootfs-slots",
            "mutually exclusive",
            state},
           {{{"rootfs", "-"}, {"rootfs-name", "\"a\""}, {"rootfs-slots", two}},
            "rootfs-slots",
            "rootfs-slots",
            "needs the state partition"},
           {{{"rootfs", "-"}, {"rootfs-name", "\"a\""}, {"rootfs-slots", "[\"PARTLABEL=a-a\"]"}},
            "rootfs-slots",
            "rootfs-slots",
            "lists 1 slot(s); list exactly two",
            state},
           {{{"rootfs", "-"},
             {"rootfs-name", "\"a\""},
             {"rootfs-slots", "[\"PARTLABEL=x\", \"PARTLABEL=x\"]"}},
            "rootfs-slots",
            "rootfs-slots",
            "both slots are",
            state},
           {{{"rootfs", "-"},
             {"rootfs-name", "\"a\""},
             {"rootfs-slots", "[\"PARTLABEL=x\", \"LABEL=state\"]"}},
            "rootfs-slots",
            "rootfs-slots",
            "names a filesystem, not a bundle",
            state},
           {{{"rootfs", "-"},
             {"rootfs-name", "\"a\""},
             {"rootfs-slots", "[\"PARTLABEL=x\", \"/srv/b\"]"}},
            "rootfs-slots",
            "rootfs-slots",
            "is a directory",
            state},
           {{{"rootfs", "-"}, {"rootfs-slots", two}},
            "rootfs-name",
            "rootfs-slots",
            "required with a bundle rootfs",
            state},
           {{{"rootfs-tries", "2"}}, "rootfs-tries", "rootfs-tries", "without rootfs-slots"},
           {{{"rootfs", "-"},
             {"rootfs-name", "\"a\""},
             {"rootfs-slots", two},
             {"rootfs-tries", "0"}},
            "rootfs-tries",
            "rootfs-tries",
            "out of range",
            state},
       })
    ExpectOneProblem(c);
  Entry ok = MakeEntry(
      {{"rootfs", "-"}, {"rootfs-name", "\"a\""}, {"rootfs-slots", two}, {"rootfs-tries", "5"}},
      state);
  ParsedConfig p = ParseConfig(ok.text, "f");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  ASSERT_EQ(p.config.jails.jails.size(), 1u);
  const JailConfig& j = p.config.jails.jails[0];
  EXPECT_EQ(j.rootfs_slots,
            (std::vector<std::string>{"LABEL=state:/jails/a-a.bundle", "PARTLABEL=a-b"}));
  EXPECT_EQ(j.rootfs_tries, 5u);
}

TEST(JailParseTest, ProgramProblems) {
  for (const Case& c : std::vector<Case>{
           {{{"command", "-"}}, "command", "", "required: the argv of the jail's program"},
           {{{"command", "[]"}}, "command", "command", "required: the argv"},
           {{{"command", "[\"app\"]"}}, "command", "command", "\"app\" is not an absolute path"},
           {{{"command", "\"/bin/app\""}},
            "command",
            "command",
            "got string, expected a list of strings"},
           {{{"command", "[\"/bin/app\", 1]"}}, "command", "command", "entry 2 is integer"},
           {{{"helpers", "[[\"nice\"]]"}},
            "helpers",
            "helpers",
            "helper 1: program \"nice\" is not an absolute path"},
           {{{"helpers", "[[\"/bin/a\"], []]"}}, "helpers", "helpers", "helper 2: empty argv"},
           {{{"helpers", "[\"/bin/nice\"]"}},
            "helpers",
            "helpers",
            "helper 1: wrong type: got string"},
           {{{"helpers", "[[\"/bin/nice\", 5]]"}},
            "helpers",
            "helpers",
            "helper 1: wrong type: entry 2 is integer"},
           {{{"reaper", "\"yes\""}}, "reaper", "reaper", "expected true or false"},
           {{{"env", "{\"1X\" = \"a\"}"}}, "env", "env", "bad variable name \"1X\""},
           {{{"env", "{A = 1}"}}, "env", "env", "A: wrong type: got integer, expected a string"},
           {{{"env", "\"A=b\""}}, "env", "env", "expected a table"},
           {{{"hostname", "\"-web\""}}, "hostname", "hostname", "is not a host name"},
           {{{"hostname", "\"" + std::string(65, 'h') + "\""}},
            "hostname",
            "hostname",
            "at most 64"},
           {{{"user", "\"Bad User\""}}, "user", "user", "is not a user or group"},
           {{{"user", "-1"}}, "user", "user", "out of range"},
           {{{"group", "4294967295"}}, "group", "group", "out of range"},
           {{{"group", "\"4294967295\""}}, "group", "group", "is not a valid id"},
           {{{"user", "true"}}, "user", "user", "expected a name or a number"},
       })
    ExpectOneProblem(c);
}

TEST(JailParseTest, ConfinementProblems) {
  for (const Case& c : std::vector<Case>{
           {{{"kind", "\"privileged\""}, {"uid-map", "{host = 100000, count = 10}"}},
            "uid-map",
            "uid-map",
            "only for unprivileged and VM jails"},
           {{{"gid-map", "{host = 0, count = 10}"}}, "gid-map", "gid-map", "maps host id 0 (root)"},
           {{{"uid-map", "{host = 0, count = 10}"}}, "uid-map", "uid-map", "maps host id 0 (root)"},
           {{{"uid-map", "{host = 1, count = 0}"}}, "uid-map", "uid-map", "count is 0"},
           {{{"uid-map", "{host = 4294967000, count = 65536}"}},
            "uid-map",
            "uid-map",
            "runs past the last id 4294967294"},
           {{{"uid-map", "{host = 4294967295, count = 1}"}},
            "uid-map",
            "uid-map",
            "runs past the last id"},
           {{{"uid-map", "{host = 1}"}}, "uid-map", "uid-map", "needs both host and count"},
           {{{"uid-map", "{host = 1, count = 2, size = 3}"}},
            "uid-map",
            "uid-map",
            "unknown key \"size\""},
           {{{"uid-map", "{host = -1, count = 2}"}}, "uid-map", "uid-map", "host: value -1"},
           {{{"uid-map", "100000"}}, "uid-map", "uid-map", "expected an inline table"},
           {{{"capabilities", "[\"NET_ADMIN\", \"\"]"}},
            "capabilities",
            "capabilities",
            "entry 2 is empty"},
           {{{"seccomp", "\"unconfined\""}},
            "seccomp",
            "seccomp",
            "\"unconfined\" is only for privileged jails"},
           {{{"seccomp", "\"strict\""}}, "seccomp", "seccomp", "unknown value \"strict\""},
           {{{"no-new-privileges", "1"}},
            "no-new-privileges",
            "no-new-privileges",
            "expected true or false"},
           {{{"devices", "[\"/dev/fuse\"]"}},
            "devices",
            "devices",
            "only privileged jails get other devices"},
           {{{"devices", "[\"/tmp/fuse\"]"}}, "devices", "devices", "not a plain path under /dev/"},
           {{{"kind", "\"privileged\""}, {"devices", "[\"/dev/../etc/shadow\"]"}},
            "devices",
            "devices",
            "not a plain path under /dev/"},
       })
    ExpectOneProblem(c);
  // Default devices are fine unprivileged; anything privileged.
  EXPECT_TRUE(ParseConfig(MakeEntry({{"devices", "[\"/dev/null\", \"/dev/ptmx\"]"}}, "").text, "f")
                  .problems.empty());
  EXPECT_TRUE(ParseConfig(MakeEntry({{"kind", "\"privileged\""},
                                     {"seccomp", "\"unconfined\""},
                                     {"devices", "[\"/dev/fuse\"]"}},
                                    "")
                              .text,
                          "f")
                  .problems.empty());
  EXPECT_TRUE(
      ParseConfig(MakeEntry({{"uid-map", "{host = 4294901759, count = 65535}"}}, "").text, "f")
          .problems.empty());
}

TEST(JailParseTest, LimitProblems) {
  for (const Case& c : std::vector<Case>{
           {{{"memory-max", "\"12X\""}}, "memory-max", "memory-max", "\"12X\" is not a size"},
           {{{"memory-max", "-1"}}, "memory-max", "memory-max", "negative"},
           {{{"memory-max", "1.5"}}, "memory-max", "memory-max", "got floating-point"},
           {{{"memory-max", "\"1G\""}, {"memory-high", "\"2G\""}},
            "memory-high",
            "memory-high",
            "is above memory-max"},
           {{{"pids-max", "0"}}, "pids-max", "pids-max", "use at least 1"},
           {{{"pids-max", "-5"}}, "pids-max", "pids-max", "out of range"},
           {{{"cpu-max", "\"half\""}}, "cpu-max", "cpu-max", "is not a cpu.max value"},
           {{{"cpu-weight", "0"}}, "cpu-weight", "cpu-weight", "use 1 to 10000"},
           {{{"cpu-weight", "10001"}}, "cpu-weight", "cpu-weight", "use 1 to 10000"},
           {{{"io-max", "[\"sda rbps=1\"]"}}, "io-max", "io-max", "does not start with MAJ:MIN"},
           {{{"rlimits", "{nofiles = 10}"}}, "rlimits", "rlimits", "unknown rlimit \"nofiles\""},
           {{{"rlimits", "{nofile = \"10:5\"}"}},
            "rlimits",
            "rlimits",
            "nofile: soft limit above hard limit"},
           {{{"rlimits", "{nofile = \"lots\"}"}}, "rlimits", "rlimits", "nofile: \"lots\" is not"},
           {{{"rlimits", "{nofile = -1}"}}, "rlimits", "rlimits", "nofile: wrong type"},
           {{{"rlimits", "[\"nofile=10\"]"}}, "rlimits", "rlimits", "expected a table"},
       })
    ExpectOneProblem(c);
}

TEST(JailParseTest, MountProblems) {
  for (const Case& c : std::vector<Case>{
           {{{"mounts", "[{type = \"bind\", target = \"/data\"}]"}},
            "mounts",
            "mounts",
            "entry 1: a bind mount needs source"},
           {{{"mounts", "[{type = \"tmpfs\", source = \"/x\", target = \"/t\"}]"}},
            "mounts",
            "mounts",
            "entry 1: a tmpfs has no source"},
           {{{"mounts", "[{source = \"/x\", target = \"data\"}]"}},
            "mounts",
            "mounts",
            "target \"data\" is not absolute"},
           {{{"mounts", "[{source = \"/x\", target = \"/a/../../etc\"}]"}},
            "mounts",
            "mounts",
            "contains \"..\""},
           {{{"mounts", "[{type = \"tmpfs\", target = \"/\"}]"}},
            "mounts",
            "mounts",
            "would hide the rootfs"},
           {{{"mounts", "[{source = \"x\", target = \"/x\"}]"}},
            "mounts",
            "mounts",
            "source \"x\" is not absolute"},
           {{{"mounts", "[{source = \"/x\"}]"}}, "mounts", "mounts", "entry 1: target is required"},
           {{{"mounts", "[{source = \"/x\", target = \"/y\", size = \"1m\"}]"}},
            "mounts",
            "mounts",
            "size is only for type = \"tmpfs\""},
           {{{"mounts", "[{type = \"tmpfs\", target = \"/t\", size = \"big\"}]"}},
            "mounts",
            "mounts",
            "is not a tmpfs size"},
           {{{"mounts", "[{type = \"overlay\", target = \"/t\"}]"}},
            "mounts",
            "mounts",
            "entry 1: type: unknown value \"overlay\"; expected one of bind, tmpfs"},
           {{{"mounts", "[{target = \"/t\", mode = \"1777\"}]"}},
            "mounts",
            "mounts",
            "entry 1: unknown key \"mode\""},
           {{{"mounts", "[{source = \"/x\", target = \"/t\", read-only = \"no\"}]"}},
            "mounts",
            "mounts",
            "read-only: wrong type"},
           {{{"mounts", "{target = \"/t\"}"}}, "mounts", "mounts", "expected a list of inline"},
       })
    ExpectOneProblem(c);
  // A mount on a line of its own is reported on that line.
  std::string toml =
      "[[jail]]\nname = \"a\"\nrootfs = \"/srv/a\"\ncommand = [\"/bin/a\"]\nmounts = [\n"
      "  {type = \"tmpfs\", target = \"/t\"},\n  {type = \"bind\", target = \"/d\"},\n]\n";
  ParsedConfig p = ParseConfig(toml, "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].line, 7);
  EXPECT_NE(p.problems[0].message.find("entry 2: a bind mount needs source"), std::string::npos);
}

TEST(JailParseTest, NetworkProblems) {
  const std::pair<std::string, std::string> veth{"network", "\"veth\""};
  for (const Case& c : std::vector<Case>{
           {{{"network", "\"wifi\""}},
            "network",
            "network",
            "unknown value \"wifi\"; expected one of none, loopback, veth, macvlan, user, tap"},
           {{{"network", "\"macvlan\""}},
            "host-interface",
            "network",
            "network = \"macvlan\" needs host-interface"},
           {{{"host-interface", "\"eth0\""}},
            "host-interface",
            "host-interface",
            "only for network = \"veth\", \"macvlan\" or \"tap\" (this jail has network = "
            "\"none\")"},
           {{veth, {"host-interface", "\"a-much-too-long-name\""}},
            "host-interface",
            "host-interface",
            "is not an interface name"},
           {{{"network", "\"macvlan\""},
             {"host-interface", "\"eth0\""},
             {"host-address", "\"10.0.0.1/30\""}},
            "host-address",
            "host-address",
            "only for network = \"veth\""},
           {{veth, {"host-address", "\"10.0.0.1\""}},
            "host-address",
            "host-address",
            "has no /PREFIX"},
           {{{"network", "\"loopback\""}, {"addresses", "[\"10.0.0.2/24\"]"}},
            "addresses",
            "addresses",
            "needs network = \"veth\" or \"macvlan\" (this jail has network = "
            "\"loopback\")"},
           {{veth, {"addresses", "[\"10.0.0.2/33\"]"}},
            "addresses",
            "addresses",
            "prefix \"33\" is not in 0..32"},
           {{veth, {"addresses", "[\"fd00::1/129\"]"}},
            "addresses",
            "addresses",
            "is not in 0..128"},
           {{veth, {"addresses", "[\"10.0.0.300/24\"]"}},
            "addresses",
            "addresses",
            "is not a numeric address"},
           {{{"gateway", "\"10.0.0.1\""}}, "gateway", "gateway", "needs network"},
           {{veth, {"gateway", "\"10.0.0\""}}, "gateway", "gateway", "is not a numeric IPv4"},
           {{{"routes", "[\"10.1.0.0/16\"]"}}, "routes", "routes", "needs network"},
           {{veth, {"routes", "[\"10.1.0.0/16 via fd00::1\"]"}},
            "routes",
            "routes",
            "mixes IPv4 and IPv6"},
       })
    ExpectOneProblem(c);
}

TEST(JailParseTest, SupervisionProblems) {
  for (const Case& c : std::vector<Case>{
           {{{"restart", "\"sometimes\""}},
            "restart",
            "restart",
            "unknown value \"sometimes\"; expected one of never, on-failure, always"},
           {{{"restart-delay-ms", "0"}},
            "restart-delay-ms",
            "restart-delay-ms",
            "value 0 is out of range; use an integer from 1 to 86400000"},
           {{{"restart-max-delay-ms", "10"}},
            "restart-max-delay-ms",
            "restart-max-delay-ms",
            "is below restart-delay-ms (1000)"},
           {{{"restart-limit", "0"}}, "restart-limit", "restart-limit", "out of range"},
           {{{"restart-window-s", "0"}}, "restart-window-s", "restart-window-s", "out of range"},
           {{{"restart-window-s", "99999999999"}},
            "restart-window-s",
            "restart-window-s",
            "out of range"},
           {{{"stop-timeout-ms", "-1"}}, "stop-timeout-ms", "stop-timeout-ms", "out of range"},
           {{{"stop-signal", "\"SIGFOO\""}},
            "stop-signal",
            "stop-signal",
            "unknown signal \"SIGFOO\""},
           {{{"stop-signal", "15"}}, "stop-signal", "stop-signal", "expected a string"},
       })
    ExpectOneProblem(c);
  ParsedConfig p = ParseConfig(MakeEntry({{"stop-signal", "\"rtmin+3\""}}, "").text, "f");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.jails.jails[0].stop_signal, SIGRTMIN + 3);
}

// kind = "vm": its own keys, and every container key refused on it.
TEST(JailParseTest, VmProblems) {
  using KV = std::pair<std::string, std::string>;
  auto vm = [](std::vector<KV> extra) {
    std::vector<KV> kv = {
        {"kind", "\"vm\""}, {"rootfs", "\"PARTLABEL=a\""}, {"rootfs-name", "\"a\""}};
    kv.insert(kv.end(), extra.begin(), extra.end());
    return kv;
  };
  const KV q35{"machine", "\"q35\""};
  for (const Case& c : std::vector<Case>{
           {vm({{"machine", "\"pc\""}}), "machine", "machine",
            "unknown value \"pc\"; expected one of microvm, q35"},
           {vm({{"cpus", "0"}}), "cpus", "cpus", "value 0 is out of range; use 1 to 64"},
           {vm({{"cpus", "65"}}), "cpus", "cpus", "value 65 is out of range; use 1 to 64"},
           {vm({{"cpus", "\"2\""}}), "cpus", "cpus", "expected an integer"},
           {vm({{"memory", "\"32M\""}}), "memory", "memory", "out of range; use \"64M\" to \"1T\""},
           {vm({{"memory", "\"2T\""}}), "memory", "memory", "out of range"},
           {vm({{"memory", "100000000"}}), "memory", "memory", "not a whole number of MiB"},
           {vm({{"memory", "\"lots\""}}), "memory", "memory", "is not a size"},
           {vm({{"accel", "\"hvf\""}}), "accel", "accel",
            "unknown value \"hvf\"; expected one of auto, kvm, tcg"},
           {vm({{"kernel", "\"vmlinuz\""}}), "kernel", "kernel", "is not absolute"},
           {vm({{"kernel-modules", "\"/lib/../x\""}}), "kernel-modules", "kernel-modules",
            "contains \"..\""},
           {vm({{"state-disk", "\"disk.img\""}}), "state-disk", "state-disk", "is not absolute"},
           {vm({{"kernel-args", "[\"quiet\", \"a b\"]"}}), "kernel-args", "kernel-args",
            "entry 2: \"a b\" is empty or has a space"},
           {vm({{"kernel-args", "[\"\"]"}}), "kernel-args", "kernel-args", "is empty"},
           {vm({{"kernel-args", "[\"rdinit=/bin/sh\"]"}}), "kernel-args", "kernel-args",
            "would bypass initos in the guest"},
           {vm({{"kernel-args", "[\"init=/bin/sh\"]"}}), "kernel-args", "kernel-args",
            "would bypass initos in the guest"},
           {vm({{"vsock", "\"yes\""}}), "vsock", "vsock", "expected true or false"},
           {vm({{"command", "-"}}), "command", "", "required"},
           {vm({}) /* rootfs replaced below */, "", "", ""},
           {vm({{"capabilities", "[\"CHOWN\"]"}}), "capabilities", "capabilities",
            "only for containers: a VM jail's QEMU runs with no capabilities"},
           {vm({{"seccomp", "\"unconfined\""}}), "seccomp", "seccomp",
            "QEMU always runs under its own -sandbox"},
           {vm({{"seccomp", "\"/etc/s.json\""}}), "seccomp", "seccomp", "remove seccomp"},
           {vm({{"no-new-privileges", "false"}}), "no-new-privileges", "no-new-privileges",
            "QEMU always runs with no_new_privs"},
           {vm({{"mounts", "[{type = \"tmpfs\", target = \"/t\"}]"}}), "mounts", "mounts",
            "give it state-disk"},
           {vm({{"reaper", "true"}}), "reaper", "reaper", "the guest's PID 1"},
           {vm({{"env", "{A = \"b\"}"}}), "env", "env", "remove env"},
           {vm({{"hostname", "\"x\""}}), "hostname", "hostname", "guest names itself"},
           {vm({{"user", "\"1000\""}}), "user", "user", "runs as root inside the guest"},
           {vm({{"group", "5"}}), "group", "group", "remove group"},
           {vm({{"rlimits", "{nofile = 1}"}}), "rlimits", "rlimits", "remove rlimits"},
           {vm({{"upper", "\"state\""}}), "upper", "upper", "give it state-disk"},
           {vm({{"upper", "\"tmpfs\""}}), "upper", "upper", "remove upper"},
           {vm({{"stop-signal", "\"SIGTERM\""}}), "stop-signal", "stop-signal",
            "stopped by ACPI powerdown"},
           {vm({{"memory-max", "\"512M\""}}), "memory-max", "memory-max",
            "leaves QEMU no room above the guest's memory (536870912); set it at least 64M"},
           {vm({{"gid-map", "{host = 0, count = 10}"}}), "gid-map", "gid-map",
            "maps host id 0 (root)"},
           {vm({{"network", "\"veth\""}}), "network", "network",
            "network = \"veth\" is only for containers; a VM jail has \"none\", \"user\""},
           {vm({{"network", "\"loopback\""}}), "network", "network", "is only for containers"},
           {{{"network", "\"user\""}},
            "network",
            "network",
            "network = \"user\" is only for kind = \"vm\"; a container has"},
           {{{"network", "\"tap\""}}, "network", "network", "is only for kind = \"vm\""},
           {vm({{"network", "\"tap\""}, {"addresses", "[\"10.0.0.2/30\"]"}}), "addresses",
            "addresses", "a VM's guest configures its own addresses and routes"},
           {vm({{"network", "\"tap\""}, {"gateway", "\"10.0.0.1\""}}), "gateway", "gateway",
            "remove gateway"},
           {vm({{"network", "\"user\""}, {"routes", "[\"10.0.0.0/8\"]"}}), "routes", "routes",
            "remove routes"},
           {vm({{"network", "\"user\""}, {"host-interface", "\"tap0\""}}), "host-interface",
            "host-interface", "only for network = \"veth\", \"macvlan\" or \"tap\""},
           {vm({{"network", "\"user\""}, {"host-address", "\"10.0.0.1/30\""}}), "host-address",
            "host-address", "only for network = \"veth\" or \"tap\""},
           {vm({{"network", "\"tap\""}, {"host-address", "\"10.0.0.1\""}}), "host-address",
            "host-address", "has no /PREFIX"},
           {vm({{"network", "\"tap\""}, {"host-interface", "\"a-much-too-long-name\""}}),
            "host-interface", "host-interface", "is not an interface name"},
           {vm({{"devices", "[\"0000:01:00.0\"]"}}), "devices", "devices",
            "VFIO passthrough needs a PCI bus, and machine = \"microvm\" has none"},
           {vm({q35, {"devices", "[\"01:00.0\"]"}}), "devices", "devices",
            "entry 1: \"01:00.0\" is not a PCI address"},
           {vm({q35, {"devices", "[\"0000:0A:00.0\"]"}}), "devices", "devices", "lower-case hex"},
           {vm({q35, {"devices", "[\"0000:01:20.0\"]"}}), "devices", "devices",
            "is not a PCI address"},
           {vm({q35, {"devices", "[\"0000:01:00.8\"]"}}), "devices", "devices",
            "is not a PCI address"},
           {vm({q35, {"devices", "[\"/dev/fuse\"]"}}), "devices", "devices", "(see lspci -D)"},
           {vm({q35, {"devices", "[\"0000:01:00.0\", \"0000:01:00.0\"]"}}), "devices", "devices",
            "entry 2: \"0000:01:00.0\" is listed twice"},
           // Container keys on a VM, even when written with their default value.
           {vm({{"seccomp", "\"default\""}}), "seccomp", "seccomp", "remove seccomp"},
           {vm({{"capabilities", "[]"}}), "capabilities", "capabilities", "only for containers"},
           {vm({{"no-new-privileges", "true"}}), "no-new-privileges", "no-new-privileges",
            "only for containers"},
           {vm({{"reaper", "false"}}), "reaper", "reaper", "only for containers"},
           {vm({{"user", "\"0\""}}), "user", "user", "only for containers"},
           {vm({{"mounts", "[]"}}), "mounts", "mounts", "only for containers"},
           {vm({{"rlimits", "{}"}}), "rlimits", "rlimits", "only for containers"},
           {vm({{"env", "{}"}}), "env", "env", "only for containers"},
           // VM keys on a container, even when written with their default value.
           {{{"machine", "\"q35\""}},
            "machine",
            "machine",
            "only for kind = \"vm\" (this jail is \"unprivileged\"); remove it or set kind = "
            "\"vm\""},
           {{{"vsock", "true"}}, "vsock", "vsock", "only for kind = \"vm\""},
           {{{"kernel-args", "[]"}}, "kernel-args", "kernel-args", "only for kind = \"vm\""},
           {{{"kind", "\"privileged\""}, {"memory", "\"1G\""}},
            "memory",
            "memory",
            "(this jail is \"privileged\")"},
           {{{"cpus", "2"}}, "cpus", "cpus", "only for kind = \"vm\""},
           {{{"accel", "\"kvm\""}}, "accel", "accel", "only for kind = \"vm\""},
           {{{"kernel", "\"/k\""}}, "kernel", "kernel", "only for kind = \"vm\""},
           {{{"kernel-modules", "\"/m\""}}, "kernel-modules", "kernel-modules", "only for kind"},
           {{{"state-disk", "\"/d\""}}, "state-disk", "state-disk", "only for kind = \"vm\""},
       }) {
    if (c.key.empty()) {
      // A directory rootfs cannot be a guest's disk.
      std::vector<KV> kv = vm({});
      kv[1].second = "\"/srv/a\"";
      ExpectOneProblem({kv, "rootfs", "rootfs", "a VM jail boots a signed bundle"});
      continue;
    }
    ExpectOneProblem(c);
  }
}

TEST(JailParseTest, ValidVms) {
  std::string base =
      "[[jail]]\nname = \"a\"\nkind = \"vm\"\nrootfs = \"PARTLABEL=a\"\nrootfs-name = "
      "\"a\"\ncommand = [\"/sbin/init\"]\n";
  for (const std::string& extra : {
           std::string(""),
           std::string("network = \"user\"\n"),
           std::string("network = \"tap\"\nhost-address = \"10.0.9.1/30\"\n"),
           std::string("network = \"tap\"\nhost-interface = \"vmtap0\"\n"),
           std::string("machine = \"q35\"\ndevices = [\"0000:00:1f.7\", \"abcd:ef:00.0\"]\n"
                       "memory = \"1G\"\nmemory-max = \"1088M\"\ncpus = 64\n"),
           std::string("uid-map = {host = 300000, count = 65536}\ngid-map = {host = 300000, "
                       "count = 65536}\n"),
           std::string("helpers = [[\"/bin/nice\"]]\nmemory = 67108864\naccel = \"tcg\"\n"),
           std::string("rootfs-slots = [\"PARTLABEL=a1\", \"PARTLABEL=a2\"]\n"),
           std::string("kernel-args = [\"quiet\", \"systemd.unit=multi-user.target\"]\n"
                       "kernel = \"/boot/vmlinuz\"\nstate-disk = \"/dev/vdb\"\nvsock = false\n"),
       }) {
    std::string text = base + extra;
    if (extra.starts_with("rootfs-slots"))
      text = "[state]\ndevice = \"PARTLABEL=state\"\n" +
             std::string(base).replace(base.find("rootfs = \"PARTLABEL=a\"\n"), 23, "") + extra;
    ParsedConfig p = ParseConfig(text, "f");
    EXPECT_TRUE(p.problems.empty()) << text << Joined(p.problems);
  }
}

TEST(JailParseTest, SectionProblems) {
  struct SectionCase {
    std::string line, key, message;
  };
  for (const auto& c : std::vector<SectionCase>{
           {"uid-pool-start = 0", "jails.uid-pool-start", "would hand out host root"},
           {"range-size = 0", "jails.range-size", "0 ids per jail"},
           {"range-size = 4000000", "jails.range-size", "is larger than uid-pool-size"},
           {"uid-pool-size = 4294967295", "jails.uid-pool-size", "runs past the last id"},
           {"uid-pool-size = -1", "jails.uid-pool-size", "out of range"},
           {"read-group = -2", "jails.read-group", "or -1 for root only"},
           {"read-group = \"adm\"", "jails.read-group", "expected an integer"},
           {"socket = \"run/j.sock\"", "jails.socket", "is not absolute"},
           {"log-ring-bytes = 100", "jails.log-ring-bytes", "at least 4096"},
           {"log-file-bytes = \"1X\"", "jails.log-file-bytes", "is not a size"},
           {"log-files = 0", "jails.log-files", "use an integer from 1 to 100"},
           {"mark-good-after-s = -1", "jails.mark-good-after-s", "use 0 (never) to 86400"},
           {"mark-good-after-s = 86401", "jails.mark-good-after-s", "use 0 (never) to 86400"},
           {"uid-pool = 5", "jails.uid-pool", "did you mean uid-pool-start?"},
       }) {
    ParsedConfig p = ParseConfig("# jails\n[jails]\n" + c.line + "\n", "jails.toml");
    ASSERT_EQ(p.problems.size(), 1u) << c.line << "\n" << Joined(p.problems);
    EXPECT_EQ(p.problems[0].key, c.key) << c.line;
    EXPECT_EQ(p.problems[0].line, 3) << c.line;
    EXPECT_TRUE(p.problems[0].fatal) << c.line;
    EXPECT_NE(p.problems[0].message.find(c.message), std::string::npos)
        << c.line << " -> " << p.problems[0].message;
  }
  ParsedConfig p = ParseConfig("jails = 1\n", "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jails");
  EXPECT_TRUE(p.problems[0].fatal);
  p = ParseConfig("[[jails]]\nname = \"a\"\n", "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_NE(p.problems[0].message.find("write [[jail]] (singular)"), std::string::npos);
  p = ParseConfig("[jail]\nname = \"a\"\n", "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail");
  EXPECT_NE(p.problems[0].message.find("[[jail]] (double brackets)"), std::string::npos);
  EXPECT_TRUE(p.problems[0].fatal);
  // The unknown-section message names the jail sections too.
  p = ParseConfig("[jailz]\n", "f");
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].message.find("[jails] and [[jail]]"), std::string::npos);
}

// ---- across entries ------------------------------------------------------

std::string Jail(const std::string& name, const std::string& extra = "") {
  return "[[jail]]\nname = \"" + name + "\"\nrootfs = \"/srv/" + name +
         "\"\ncommand = [\"/bin/app\"]\n" + extra;
}

TEST(JailSetTest, NamesAreUnique) {
  ParsedConfig p = ParseConfig(Jail("a") + Jail("b") + Jail("a"), "jails.toml");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.a.name");
  EXPECT_EQ(p.problems[0].line, 10);
  EXPECT_NE(p.problems[0].message.find("already the name of the jail on line 1"), std::string::npos)
      << p.problems[0].message;
  EXPECT_TRUE(p.problems[0].fatal);
}

TEST(JailSetTest, StartAfterNamesAnotherJailWithoutCycles) {
  // Earlier or later entries may be named.
  EXPECT_TRUE(
      ParseConfig(
          Jail("a", "start-after = \"c\"\n") + Jail("b", "start-after = \"a\"\n") + Jail("c"), "f")
          .problems.empty());
  ParsedConfig p = ParseConfig(
      Jail("a", "start-after = \"b\"\n") + Jail("b", "start-after = \"a\"\n") + Jail("c"), "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.a.start-after");
  EXPECT_EQ(p.problems[0].line, 5);
  EXPECT_NE(p.problems[0].message.find("forms a cycle (a -> b -> a)"), std::string::npos)
      << p.problems[0].message;
  EXPECT_TRUE(p.problems[0].fatal);
  // A longer cycle, entered from a jail outside it: reported once.
  p = ParseConfig(Jail("x", "start-after = \"a\"\n") + Jail("a", "start-after = \"b\"\n") +
                      Jail("b", "start-after = \"c\"\n") + Jail("c", "start-after = \"a\"\n"),
                  "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.a.start-after");
  EXPECT_NE(p.problems[0].message.find("a -> b -> c -> a"), std::string::npos)
      << p.problems[0].message;
}

TEST(JailSetTest, ExplicitIdMapsDoNotOverlap) {
  ParsedConfig p = ParseConfig(Jail("a", "uid-map = {host = 100000, count = 65536}\n") +
                                   Jail("b", "uid-map = {host = 165535, count = 10}\n"),
                               "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.b.uid-map");
  EXPECT_EQ(p.problems[0].line, 10);
  EXPECT_NE(p.problems[0].message.find("overlap those of jail \"a\""), std::string::npos);
  EXPECT_TRUE(ParseConfig(Jail("a", "uid-map = {host = 100000, count = 65536}\n") +
                              Jail("b", "uid-map = {host = 165536, count = 10}\n"),
                          "f")
                  .problems.empty());
}

TEST(JailSetTest, VethHostNamesAreUnique) {
  // "ve-" + name is cut to 15 characters: these two collide.
  ParsedConfig p = ParseConfig(Jail("application-one", "network = \"veth\"\n") +
                                   Jail("application-two", "network = \"veth\"\n"),
                               "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.application-two.host-interface");
  EXPECT_EQ(p.problems[0].line, 10);
  EXPECT_NE(p.problems[0].message.find("\"ve-application-\" is also jail \"application-one\"'s"),
            std::string::npos)
      << p.problems[0].message;
  EXPECT_TRUE(
      ParseConfig(Jail("application-one", "network = \"veth\"\n") +
                      Jail("application-two", "network = \"veth\"\nhost-interface = \"ve-app2\"\n"),
                  "f")
          .problems.empty());
  // An explicit name taken by another jail's default.
  p = ParseConfig(Jail("a", "network = \"veth\"\n") +
                      Jail("b", "network = \"veth\"\nhost-interface = \"ve-a\"\n"),
                  "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.b.host-interface");
  // macvlan jails share their parent NIC.
  EXPECT_TRUE(ParseConfig(Jail("a", "network = \"macvlan\"\nhost-interface = \"eth0\"\n") +
                              Jail("b", "network = \"macvlan\"\nhost-interface = \"eth0\"\n"),
                          "f")
                  .problems.empty());
}

TEST(JailSetTest, VmsShareNoDeviceStateDiskOrTap) {
  auto vm = [](const std::string& name, const std::string& extra) {
    return "[[jail]]\nname = \"" + name + "\"\nkind = \"vm\"\nrootfs = \"PARTLABEL=" + name +
           "\"\nrootfs-name = \"x\"\ncommand = [\"/sbin/init\"]\n" + extra;
  };
  ParsedConfig p = ParseConfig(vm("a", "state-disk = \"/dev/vdb\"\n") +
                                   vm("b", "state-disk = \"/dev/vdb\"\nnetwork = \"tap\"\n"),
                               "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.b.state-disk");
  EXPECT_NE(p.problems[0].message.find("is also jail \"a\"'s state disk"), std::string::npos);
  std::string q35 = "machine = \"q35\"\n";
  p = ParseConfig(vm("a", q35 + "devices = [\"0000:01:00.0\"]\n") +
                      vm("b", q35 + "devices = [\"0000:02:00.0\", \"0000:01:00.0\"]\n"),
                  "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.b.devices");
  EXPECT_NE(p.problems[0].message.find("\"0000:01:00.0\" is also passed to jail \"a\""),
            std::string::npos);
  // The default tap name ("tap-" + name) against a veth named alike.
  p = ParseConfig(Jail("c", "network = \"veth\"\nhost-interface = \"tap-b\"\n") +
                      vm("b", "network = \"tap\"\n"),
                  "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "jail.b.host-interface");
  EXPECT_NE(p.problems[0].message.find("the host side \"tap-b\" is also jail \"c\"'s"),
            std::string::npos);
  EXPECT_TRUE(ParseConfig(vm("a", "network = \"tap\"\n") + vm("b", "network = \"tap\"\n"), "f")
                  .problems.empty());
}

TEST(JailSetTest, ManyProblemsAreAllReportedInFileOrder) {
  ParsedConfig p =
      ParseConfig(Jail("a", "kind = \"root\"\n") + "[jails]\nlog-files = 0\n" +
                      Jail("b", "bogus = 1\nnetwork = \"none\"\ngateway = \"1.2.3.4\"\n"),
                  "f");
  ASSERT_EQ(p.problems.size(), 4u) << Joined(p.problems);
  std::vector<int> lines;
  for (const auto& pr : p.problems) {
    lines.push_back(pr.line);
    EXPECT_TRUE(pr.fatal) << pr.str();
  }
  EXPECT_EQ(lines, (std::vector<int>{5, 7, 12, 14}));
}

// ---- the mode, the boot, the kernel command line -------------------------------

TEST(JailModeTest, JailsModeNeedsAJail) {
  ParsedConfig p = ParseConfig("[init]\nmode = \"jails\"\n", "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].key, "init.mode");
  EXPECT_TRUE(p.problems[0].fatal);
  EXPECT_NE(p.problems[0].message.find("needs at least one [[jail]] entry"), std::string::npos);
  EXPECT_EQ(p.problems[0].message.find("not implemented"), std::string::npos);
  p = ParseConfig("[init]\nmode = \"jails\"\n" + Jail("a"), "f");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.init.mode, InitMode::kJails);
  // The same mistake made on the kernel command line (development mode).
  ParsedConfig l =
      LoadConfig("[rootfs]\ninsecure-dev-mode = true\n", "f", "initos.init.mode=jails");
  ASSERT_EQ(l.problems.size(), 1u) << Joined(l.problems);
  EXPECT_EQ(l.problems[0].file, "kernel command line");
  EXPECT_TRUE(l.problems[0].fatal);
}

TEST(JailModeTest, DirectoryRootfsOnlyInDevelopmentModeAtBoot) {
  ParsedConfig p = ParseConfig(Jail("a") + Jail("b", ""), "f");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);  // `initos jail run` accepts it
  p.config.jails.jails[1].rootfs = "PARTLABEL=b";
  p.config.jails.jails[1].rootfs_name = "b";
  auto boot = CheckJailsForBoot(p.config, "initos.toml");
  ASSERT_EQ(boot.size(), 1u) << Joined(boot);
  EXPECT_EQ(boot[0].key, "jail.a.rootfs");
  EXPECT_EQ(boot[0].line, 1);
  EXPECT_TRUE(boot[0].fatal);
  EXPECT_NE(boot[0].message.find("is not verified, so PID 1 refuses it"), std::string::npos);
  EXPECT_NE(boot[0].message.find("rootfs.insecure-dev-mode = true"), std::string::npos);
  p.config.rootfs.insecure_dev_mode = true;
  EXPECT_TRUE(CheckJailsForBoot(p.config, "initos.toml").empty());
}

TEST(JailModeTest, NoJailKeyFromTheKernelCommandLine) {
  const std::string toml = "[rootfs]\ninsecure-dev-mode = true\n" + Jail("a");
  ParsedConfig l = LoadConfig(toml, "f",
                              "initos.jail.a.command=/bin/sh initos.jails.socket=/tmp/s "
                              "initos.jail.b.name=b");
  ASSERT_EQ(l.problems.size(), 3u) << Joined(l.problems);
  for (const auto& pr : l.problems) {
    EXPECT_EQ(pr.file, "kernel command line");
    EXPECT_NE(pr.message.find("refused"), std::string::npos);
    EXPECT_NE(pr.message.find("not even in development mode"), std::string::npos);
  }
  ParsedConfig plain = ParseConfig(toml, "f");
  EXPECT_EQ(l.config.jails, plain.config.jails);
}

// Checks work on configs built in code too (no source lines: the entry's).
TEST(JailCheckTest, ConfigsBuiltInCode) {
  Config c;
  JailConfig j;
  j.name = "x";
  j.rootfs = "/srv/x";
  j.command = {"/bin/x"};
  j.line = 42;
  EXPECT_TRUE(CheckJail(j, 0, c, "code").empty());
  j.kind = JailKind::kPrivileged;
  j.uid_map = IdRange{1000, 10};
  j.stop_signal = 0;
  auto problems = CheckJail(j, 0, c, "code");
  ASSERT_EQ(problems.size(), 2u) << Joined(problems);
  EXPECT_EQ(problems[0].key, "jail.x.uid-map");
  EXPECT_EQ(problems[0].line, 42);
  EXPECT_EQ(problems[1].key, "jail.x.stop-signal");
  EXPECT_EQ(JailProblemKey(j, 3), "jail.x");
  j.name = "X";
  EXPECT_EQ(JailProblemKey(j, 3), "jail[4]");
}

// Configs built in code have no lines: a VM key counts as set when it
// differs from its default, and a container key on a VM likewise.
TEST(JailCheckTest, VmConfigsBuiltInCode) {
  Config c;
  JailConfig j;
  j.name = "x";
  j.kind = JailKind::kVm;
  j.rootfs = "PARTLABEL=x";
  j.rootfs_name = "x";
  j.command = {"/sbin/init"};
  EXPECT_TRUE(CheckJail(j, 0, c, "code").empty()) << Joined(CheckJail(j, 0, c, "code"));
  j.stop_signal = SIGINT;
  j.capabilities = {"CHOWN"};
  j.vm.cpus = 0;
  auto problems = CheckJail(j, 0, c, "code");
  ASSERT_EQ(problems.size(), 3u) << Joined(problems);
  EXPECT_EQ(problems[0].key, "jail.x.cpus");
  EXPECT_EQ(problems[1].key, "jail.x.capabilities");
  EXPECT_EQ(problems[2].key, "jail.x.stop-signal");
  JailConfig container;
  container.name = "y";
  container.rootfs = "/srv/y";
  container.command = {"/bin/y"};
  container.vm.vsock = false;
  container.vm.kernel_args = {"quiet"};
  problems = CheckJail(container, 0, c, "code");
  ASSERT_EQ(problems.size(), 2u) << Joined(problems);
  EXPECT_EQ(problems[0].key, "jail.y.kernel-args");
  EXPECT_EQ(problems[1].key, "jail.y.vsock");
}

// ---- configs/jails.toml ------------------------------------------------------

std::string JailsExample() {
  auto text =
      ReadFileToString((std::filesystem::path(INITOS_SOURCE_DIR) / "configs/jails.toml").string());
  EXPECT_TRUE(text.ok());
  return text.ok() ? *text : "";
}

TEST(JailExampleTest, ParsesWithoutProblemsAndBoots) {
  ParsedConfig p = ParseConfig(JailsExample(), "jails.toml");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_TRUE(CheckJailsForBoot(p.config, "jails.toml").empty());
  EXPECT_EQ(p.config.init.mode, InitMode::kJails);
  ASSERT_EQ(p.config.jails.jails.size(), 3u);
  const JailConfig& os = p.config.jails.jails[0];
  EXPECT_EQ(os.kind, JailKind::kUnprivileged);
  EXPECT_EQ(os.network.kind, JailNetworkKind::kVeth);
  EXPECT_EQ(os.stop_signal, SIGRTMIN + 3);
  const JailConfig& app = p.config.jails.jails[1];
  EXPECT_TRUE(app.reaper);
  EXPECT_EQ(app.helpers.size(), 1u);
  EXPECT_EQ(app.restart, RestartPolicy::kOnFailure);
  const JailConfig& vm = p.config.jails.jails[2];
  EXPECT_EQ(vm.kind, JailKind::kVm);
  EXPECT_EQ(vm.vm.machine, "q35");
  EXPECT_EQ(vm.vm.memory, 1ull << 30);
  EXPECT_EQ(vm.network.kind, JailNetworkKind::kTap);
  EXPECT_EQ(vm.devices, (std::vector<std::string>{"0000:03:00.0"}));
  // [jails] is written with its defaults, like configs/initos.toml.
  JailsConfig section = p.config.jails;
  section.jails.clear();
  EXPECT_EQ(section, JailsConfig{}) << "configs/jails.toml must show the [jails] defaults";
}

// Every key has its comment block ("# KEY: type ..." or "# A / B: ...") with
// a default, so the docs cannot drift from the parser.
TEST(JailExampleTest, DocumentsEveryKey) {
  std::string text = JailsExample();
  std::vector<std::string_view> keys = JailsSectionKeys();
  for (auto k : JailEntryKeys()) keys.push_back(k);
  for (auto k : keys) {
    std::string key(k);
    size_t at = text.find("\n# " + key + ":");
    if (at == std::string::npos) at = text.find("\n# " + key + " / ");
    if (at == std::string::npos) at = text.find(" / " + key + ":");
    ASSERT_NE(at, std::string::npos) << key << " is not documented in configs/jails.toml";
    size_t block_end = text.find("\n\n", at);
    std::string block = text.substr(at, block_end - at);
    EXPECT_TRUE(block.find("Default") != std::string::npos ||
                block.find(", required") != std::string::npos)
        << key << ": neither a default nor \"required\" documented";
  }
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// Random byte edits of configs/jails.toml never crash the reader or the
// checks; every problem names a file and a message, and every problem about
// a jail key is fatal.
TEST(JailRobustnessTest, MutatedExampleNeverCrashes) {
  const std::string base = JailsExample();
  ASSERT_FALSE(base.empty());
  const std::string alphabet = "=[]{}\"',.#\n -_0123456789abcdefghijklmnopqrstuvwxyz/:";
  uint32_t seed = 4242;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xffffff; };
  size_t with_problems = 0;
  for (int round = 0; round < 400; ++round) {
    std::string text = base;
    for (int edits = 1 + next() % 6; edits > 0; --edits)
      text[next() % text.size()] = alphabet[next() % alphabet.size()];
    ParsedConfig p = ParseConfig(text, "jails.toml");
    auto boot = CheckJailsForBoot(p.config, "jails.toml");
    p.problems.insert(p.problems.end(), boot.begin(), boot.end());
    for (const auto& problem : p.problems) {
      EXPECT_FALSE(problem.file.empty());
      EXPECT_FALSE(problem.message.empty());
      if (problem.key.starts_with("jail")) {
        EXPECT_TRUE(problem.fatal) << problem.str();
      }
    }
    with_problems += !p.problems.empty();
  }
  EXPECT_GT(with_problems, 100u);
}

}  // namespace
}  // namespace initos
