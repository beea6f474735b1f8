// End to end of issue 5: PID 1 verifies a signed Debian bundle, switch-roots
// into its systemd and leaves the SSH sidecar running beside it; the real ssh
// client logs in from the host through a QEMU port forward. One long test
// shares two boots (Debian under TCG is slow) between the assertions; a short
// one checks the missing-OS-init failure path.
//
// The signed bundle is built once into BUILD/qemu-work/switch-root-shared
// from the cached debootstrap tree (scripts/debian-rootfs.sh) and reused.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <thread>

#include "base/file.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

constexpr const char kPartLabel[] = "debian";
constexpr const char kStateLabel[] = "initos-state";
constexpr int kStateMiB = 64;

struct Shared {
  std::string dir;
  std::string bundle;       // signed Debian bundle
  std::string signing_pub;  // trusted by the initramfs
  std::string ssh_key;      // authorized in the sidecar
  std::string wrong_key;    // not authorized
  std::string error;        // why the fixture could not be built
};

std::string Run(const std::vector<std::string>& argv, std::string* error) {
  auto [code, out] = RunCapture(argv);
  if (code != 0 && error->empty())
    *error = argv[0] + " exited " + std::to_string(code) + ":\n" + out;
  return out;
}

// Builds (or reuses) the shared files; a file lock serializes parallel tests.
const Shared& GetShared() {
  static Shared s = [] {
    Shared s;
    s.dir = (fs::path(TestWorkDir()).parent_path() / "switch-root-shared").string();
    fs::create_directories(s.dir);
    unique_fd lock(::open((s.dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ::flock(lock.get(), LOCK_EX);
    std::string rootfs =
        Run({std::string(INITOS_SOURCE_DIR) + "/scripts/debian-rootfs.sh", "--tar", "--print-path"},
            &s.error);
    if (!s.error.empty()) return s;
    // The last line is the rootfs directory; the tarball sits beside it.
    while (!rootfs.empty() && rootfs.back() == '\n') rootfs.pop_back();
    rootfs = rootfs.substr(rootfs.rfind('\n') + 1);
    std::string tar = fs::path(rootfs).parent_path() / "rootfs.tar";
    if (!fs::exists(tar))
      Run({std::string(INITOS_SOURCE_DIR) + "/scripts/debian-rootfs.sh", "--tar"}, &s.error);
    s.signing_pub = s.dir + "/dev/signing.pub";
    s.ssh_key = s.dir + "/id_test";
    s.wrong_key = s.dir + "/id_wrong";
    s.bundle = s.dir + "/debian.bundle";
    std::string stamp =
        tar + " " + std::to_string(fs::last_write_time(tar).time_since_epoch().count()) + " " +
        std::to_string(fs::last_write_time(INITOS_BINARY).time_since_epoch().count());
    auto old = ReadFileToString(s.dir + "/stamp");
    if (old.ok() && *old == stamp && fs::exists(s.bundle)) return s;
    fs::remove_all(s.dir + "/dev");
    fs::remove(s.ssh_key);
    fs::remove(s.wrong_key);
    Run({INITOS_BINARY, "image", "keygen", "-o", s.dir + "/dev"}, &s.error);
    Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "initos-test", "-f", s.ssh_key},
        &s.error);
    Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wrong", "-f", s.wrong_key},
        &s.error);
    Run({INITOS_BINARY, "image", "build", "--rootfs", tar, "--key", s.dir + "/dev/signing.key",
         "--name", "debian", "--version", "1", "-o", s.bundle},
        &s.error);
    if (s.error.empty()) (void)WriteStringToFile(s.dir + "/stamp", stamp);
    return s;
  }();
  return s;
}

int FreePort() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 0;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// GPT: partition 1 (PARTLABEL debian) holds the bundle, partition 2 an ext4
// (LABEL initos-state) made by mkfs.ext4 here.
struct Disk {
  std::string path;
  uint64_t state_offset = 0;  // bytes
};

Disk MakeDisk(const Shared& sh, const std::string& dir) {
  Disk d;
  d.path = dir + "/disk.img";
  uint64_t part_mib = (fs::file_size(sh.bundle) + (1 << 20) - 1) >> 20;
  uint64_t total_mib = 1 + part_mib + kStateMiB + 1;
  {
    unique_fd fd(::open(d.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(total_mib << 20)), 0);
  }
  uint64_t state_start = (1 + part_mib) * 2048;  // sectors
  d.state_offset = state_start * 512;
  std::string err;
  Run({"sgdisk", "-n", "1:2048:+" + std::to_string(part_mib) + "M", "-c",
       std::string("1:") + kPartLabel, "-n",
       "2:" + std::to_string(state_start) + ":+" + std::to_string(kStateMiB) + "M", "-c", "2:state",
       d.path},
      &err);
  Run({"dd", "if=" + sh.bundle, "of=" + d.path, "bs=1M", "seek=1", "conv=notrunc", "status=none"},
      &err);
  std::string state = dir + "/state.ext4";
  Run({"mkfs.ext4", "-q", "-F", "-L", kStateLabel, state, std::to_string(kStateMiB) + "M"}, &err);
  Run({"dd", "if=" + state, "of=" + d.path, "bs=1M", "seek=" + std::to_string(1 + part_mib),
       "conv=notrunc", "status=none"},
      &err);
  EXPECT_EQ(err, "");
  return d;
}

// The state partition copied out of the disk, then e2fsck -fn and its state.
std::string CheckState(const Disk& d, const std::string& dir, bool* clean) {
  std::string copy = dir + "/state-check.ext4";
  std::string err;
  Run({"dd", "if=" + d.path, "of=" + copy, "bs=1M", "skip=" + std::to_string(d.state_offset >> 20),
       "count=" + std::to_string(kStateMiB), "status=none"},
      &err);
  auto [code, out] = RunCapture({"e2fsck", "-fn", copy});
  auto [c2, header] = RunCapture({"dumpe2fs", "-h", copy});
  *clean = code == 0 && header.find("Filesystem state:         clean") != std::string::npos;
  return out + header;
}

std::string Modules() {
  return "modules = [\"virtio_pci\", \"virtio_blk\", \"virtio_net\", \"dm-mod\", \"dm-verity\", "
         "\"erofs\", \"overlay\", \"loop\"]\n";
}

std::string PublicKey(const std::string& key_path) {
  auto pub = ReadFileToString(key_path + ".pub");
  std::string key = pub.ok() ? *pub : "";
  while (!key.empty() && key.back() == '\n') key.pop_back();
  return key;
}

// sidecar_start: "" keeps the default (before-handover).
std::string Config(const Shared& sh, const std::string& init_extra = "",
                   const std::string& sidecar_start = "") {
  std::string key = PublicKey(sh.ssh_key);
  // rootfs.name is required with rootfs.image: the bundle is built with
  // --name debian.
  return "[init]\nmode = \"switch-root\"\nfailure-delay-s = 0\n" + init_extra + Modules() +
         "[rootfs]\nimage = \"PARTLABEL=" + kPartLabel +
         "\"\nname = \"debian\"\nkeys = [\"/etc/initos/keys/dev.pub\"]\non-failure = "
         "\"poweroff\"\n"
         "[state]\ndevice = \"LABEL=" +
         kStateLabel + "\"\n[sidecar]\nenable = true\nauthorized-keys = [\"" + key + "\"]\n" +
         (sidecar_start.empty() ? "" : "start = \"" + sidecar_start + "\"\n");
}

// "root_hash" from `initos image info --json BUNDLE` on the host.
std::string BundleRootHash(const std::string& bundle) {
  auto [code, out] = RunCapture({INITOS_BINARY, "image", "info", "--json", bundle});
  std::smatch m;
  if (code != 0 || !std::regex_search(out, m, std::regex(R"re("root_hash": "([0-9a-f]+)")re")))
    return "image info failed: " + out;
  return m[1];
}

// QEMU user networking: the guest is 10.0.2.15, the gateway 10.0.2.2.
constexpr const char kNetworkUp[] =
    "#!/bin/busybox sh\n"
    "B=/bin/busybox\n"
    "$B ip link set lo up\n"
    "$B ip link set eth0 up\n"
    "$B ip addr add 10.0.2.15/24 dev eth0\n"
    "$B ip route add default via 10.0.2.2\n";

std::string Initramfs(const Shared& sh, const std::string& dir, const std::string& config) {
  InitramfsSpec spec;
  spec.config = config;
  spec.modules = {"virtio_pci", "virtio_blk", "virtio_net", "dm-mod",
                  "dm-verity",  "erofs",      "overlay",    "loop"};
  spec.files.push_back({sh.signing_pub, "/etc/initos/keys/dev.pub"});
  spec.texts.push_back({kNetworkUp, "/etc/initos/network-up"});
  spec.with_sshd = true;  // brings /bin/busybox too
  spec.busybox = false;
  auto img = BuildInitramfs(spec, dir);
  EXPECT_TRUE(img.ok()) << img.error().str();
  return img.ok() ? *img : "";
}

std::unique_ptr<Qemu> Boot(const std::string& initramfs, const Disk& d, int port,
                           const std::string& log, const std::string& append = "") {
  QemuOptions o = BootOptions(initramfs, "systemd.show_status=1" + append);
  o.disks = {d.path};
  o.hostfwd = {{port, 22}};
  o.memory_mb = 768;
  o.log_path = log;
  auto q = Qemu::Start(o);
  EXPECT_TRUE(q.ok()) << q.error().str();
  return q.ok() ? std::move(*q) : nullptr;
}

// Reads the console for a moment so QEMU never blocks on a full pipe while
// the test runs ssh.
void Drain(Qemu& vm) {
  vm.WaitFor("\x01never-printed\x01", Seconds(1));
}

std::pair<int, std::string> Ssh(int port, const std::string& key, const std::string& cmd,
                                std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"timeout",
                                   "60",
                                   "ssh",
                                   "-p",
                                   std::to_string(port),
                                   "-o",
                                   "StrictHostKeyChecking=no",
                                   "-o",
                                   "UserKnownHostsFile=/dev/null",
                                   "-o",
                                   "LogLevel=ERROR",
                                   "-o",
                                   "ConnectTimeout=10",
                                   "-o",
                                   "BatchMode=yes"};
  if (!key.empty()) argv.insert(argv.end(), {"-o", "IdentitiesOnly=yes", "-i", key});
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), {"root@127.0.0.1", cmd});
  return RunCapture(argv);
}

// Retries until ssh runs `true`; seconds it took, or -1.
int WaitForSsh(Qemu& vm, int port, const std::string& key, int timeout_s) {
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto [code, out] = Ssh(port, key, "true");
    int took = static_cast<int>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
            .count());
    if (code == 0) return took;
    if (took > timeout_s || !vm.Running()) return -1;
    Drain(vm);
  }
}

// The sidecar host key as ssh-keyscan sees it ("ssh-ed25519 AAAA...").
std::string HostKey(int port) {
  auto [code, out] = RunCapture(
      {"ssh-keyscan", "-T", "20", "-t", "ed25519", "-p", std::to_string(port), "127.0.0.1"});
  for (size_t at = 0; at < out.size();) {
    size_t nl = out.find('\n', at);
    std::string line = out.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    size_t k = line.find("ssh-ed25519 ");
    if (line[0] != '#' && k != std::string::npos) return line.substr(k);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return "";
}

// Runs a command in the OS's mount namespace and root (systemctl talks to
// systemd over /run/systemd, which the sidecar's /sysroot does not show).
std::string InOs(const std::string& cmd) {
  return "nsenter -t 1 -m -r -w -- " + cmd;
}

// PID of the sidecar's listening sshd: argv[0] "@sshd" and the supervisor
// (@initos-sidecar) as parent. Sessions are forks of it (same argv with
// sshd -r), so the parent is what tells them apart.
constexpr const char kSshdPids[] =
    "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' 2>/dev/null <$d/cmdline)\" in "
    "@initos-sidecar*) sup=${d#/proc/};; esac; done; "
    "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' 2>/dev/null <$d/cmdline)\" in "
    "@sshd*) set -- $(cat $d/stat 2>/dev/null); [ \"$4\" = \"$sup\" ] && echo ${d#/proc/};; "
    "esac; done";

// The supervisor's cgroup line(s): under systemd, a unit's processes are in
// its cgroup; the sidecar PID 1 forked before the handover is not in any.
constexpr const char kSupervisorCgroup[] =
    "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' 2>/dev/null <$d/cmdline)\" in "
    "@initos-sidecar*) cat $d/cgroup;; esac; done";

// Both sidecar.start variants must pass the same sidecar checks.
class SwitchRootBootSidecar : public ::testing::TestWithParam<const char*> {
 protected:
  bool AfterOsInit() const { return std::string(GetParam()) == "after-os-init"; }
};

INSTANTIATE_TEST_SUITE_P(SidecarStart, SwitchRootBootSidecar,
                         ::testing::Values("before-handover", "after-os-init"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "after-os-init" ? "AfterOsInit"
                                                                             : "BeforeHandover";
                         });

TEST_P(SwitchRootBootSidecar, DebianSystemdWithSshSidecarAcrossRebootAndPoweroff) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  Disk disk = MakeDisk(sh, dir);
  std::string initramfs = Initramfs(sh, dir, Config(sh, "", GetParam()));
  ASSERT_FALSE(initramfs.empty());
  int port = FreePort();
  ASSERT_NE(port, 0);
  std::string host_key;
  const std::string wrong_pub = PublicKey(sh.wrong_key);
  ASSERT_FALSE(wrong_pub.empty());

  {  // Boot 1: systemd, the sidecar, logins, sshd restart, poweroff. The
     // kernel command line tries to add the attacker's key: refused.
    auto vm = Boot(initramfs, disk, port, TestLogPath(),
                   " initos.sidecar.authorized-keys=\"" + wrong_pub + "\"");
    ASSERT_TRUE(vm);
    ASSERT_TRUE(vm->WaitFor("stage rootfs done", kBootTimeout)) << vm->Output();
    ASSERT_TRUE(vm->WaitFor("stage switch-root done")) << vm->Output();
    // Debian's /sbin/init (-> systemd); /proc/1/comm below says what runs.
    ASSERT_TRUE(vm->WaitForRegex(R"(exec OS init: /\S+ t=)")) << vm->Output();
    // Logged before the handover: keys come only from the signed config.
    EXPECT_TRUE(
        std::regex_search(vm->Output(), std::regex(R"(initos\.sidecar\.authorized-keys: refused)")))
        << vm->Output();
    EXPECT_EQ(vm->Output().find("sidecar: prepared in /run/initos/sidecar") != std::string::npos,
              AfterOsInit())
        << vm->Output();
    ASSERT_TRUE(vm->WaitForRegex("Reached target.*Multi-User System", Seconds(300)))
        << vm->Output();
    int ssh_s = WaitForSsh(*vm, port, sh.ssh_key, 120);
    ASSERT_GE(ssh_s, 0) << "no ssh login\n" << vm->Output();

    // Which variant runs: the unit's supervisor lives in its cgroup.
    auto [cg_code, cgroup] = Ssh(port, sh.ssh_key, kSupervisorCgroup);
    EXPECT_EQ(cg_code, 0) << cgroup;
    EXPECT_EQ(cgroup.find("initos-sidecar.service") != std::string::npos, AfterOsInit()) << cgroup;
    if (AfterOsInit()) {
      // The prepared tree the OS holds is read-only (root can remount it:
      // see the docs; this only keeps accidents out).
      auto [ro_code, ro] = Ssh(port, sh.ssh_key, InOs("/bin/touch /run/initos/sidecar/x"));
      EXPECT_NE(ro_code, 0) << ro;
      EXPECT_NE(ro.find("Read-only file system"), std::string::npos) << ro;
    }

    auto [c1, comm] = Ssh(port, sh.ssh_key, "cat /proc/1/comm");
    EXPECT_EQ(c1, 0);
    EXPECT_EQ(comm, "systemd\n");
    auto [c2, osr] =
        Ssh(port, sh.ssh_key, "cat /sysroot/etc/os-release /sysroot/etc/initos-os-marker");
    EXPECT_EQ(c2, 0) << osr;
    EXPECT_NE(osr.find("Debian GNU/Linux 12"), std::string::npos) << osr;
    EXPECT_NE(osr.find("initos-debian "), std::string::npos) << osr;
    auto [c3, blk] = Ssh(port, sh.ssh_key, "ls /sys/block");
    EXPECT_EQ(c3, 0) << blk;
    EXPECT_NE(blk.find("vda"), std::string::npos) << blk;
    EXPECT_NE(blk.find("dm-"), std::string::npos) << blk;  // the dm-verity root
    Drain(*vm);

    // `initos status` on the session's PATH names the bundle the host built
    // (root hash from `initos image info --json`, not a constant).
    std::string root_hash = BundleRootHash(sh.bundle);
    ASSERT_EQ(root_hash.size(), 64u) << root_hash;
    auto [c8, status] = Ssh(port, sh.ssh_key, "initos status");
    EXPECT_EQ(c8, 0) << status;
    EXPECT_NE(status.find("image: debian\n"), std::string::npos) << status;
    EXPECT_NE(status.find("version: 1\n"), std::string::npos) << status;
    EXPECT_NE(status.find("root hash: " + root_hash + "\n"), std::string::npos) << status;
    EXPECT_NE(status.find("mode: switch-root\n"), std::string::npos) << status;
    EXPECT_TRUE(std::regex_search(status, std::regex("sidecar uptime: [0-9hms]+\n"))) << status;
    auto [c9, json] = Ssh(port, sh.ssh_key, "initos status --json");
    EXPECT_EQ(c9, 0) << json;
    EXPECT_NE(json.find("\"root_hash\": \"" + root_hash + "\""), std::string::npos) << json;
    // The record is the sidecar's own copy in its tmpfs, not the OS's file.
    EXPECT_NE(json.find("\"record\": \"/run/initos/status\""), std::string::npos) << json;
    // The record moved into the OS's /run with the handover.
    auto [c10, os_record] = Ssh(port, sh.ssh_key, InOs("/bin/cat /run/initos/status"));
    EXPECT_EQ(c10, 0) << os_record;
    EXPECT_NE(os_record.find("root-hash=" + root_hash + "\n"), std::string::npos) << os_record;
    // Root in the OS rewrites its record: the sidecar still prints the truth.
    auto [c12, forged] = Ssh(port, sh.ssh_key,
                             InOs("/bin/sed -i s/^image=debian/image=forged/ /run/initos/status") +
                                 " && " + InOs("/bin/cat /run/initos/status"));
    EXPECT_EQ(c12, 0) << forged;
    EXPECT_NE(forged.find("image=forged\n"), std::string::npos) << forged;
    auto [c13, status2] = Ssh(port, sh.ssh_key, "initos status");
    EXPECT_EQ(c13, 0) << status2;
    EXPECT_NE(status2.find("image: debian\n"), std::string::npos) << status2;
    EXPECT_EQ(status2.find("forged"), std::string::npos) << status2;
    auto [c11, logs] = Ssh(port, sh.ssh_key, "initos logs | grep 'stage rootfs done'");
    EXPECT_EQ(c11, 0) << logs;
    EXPECT_TRUE(
        std::regex_search(logs, std::regex(R"(^\[ *[0-9]+\.[0-9]{6}\] initos: stage rootfs done)")))
        << logs;
    Drain(*vm);

    // Only the test key gets in; no password prompt is ever offered.
    auto [c4, wrong] = Ssh(port, sh.wrong_key, "true");
    EXPECT_NE(c4, 0);
    EXPECT_NE(wrong.find("Permission denied (publickey)"), std::string::npos) << wrong;
    // Root in the OS plants the attacker's key on the state partition: it
    // does not open the sidecar, the configured key still does.
    auto [c14, planted] =
        Ssh(port, sh.ssh_key,
            InOs("/bin/sh -c 'mkdir -p /run/initos/state/sidecar && echo " + wrong_pub +
                 " > /run/initos/state/sidecar/authorized_keys && chmod 600 "
                 "/run/initos/state/sidecar/authorized_keys && cat "
                 "/run/initos/state/sidecar/authorized_keys'"));
    EXPECT_EQ(c14, 0) << planted;
    EXPECT_NE(planted.find(wrong_pub), std::string::npos) << planted;
    auto [c15, still_wrong] = Ssh(port, sh.wrong_key, "true");
    EXPECT_NE(c15, 0) << still_wrong;
    EXPECT_NE(still_wrong.find("Permission denied (publickey)"), std::string::npos) << still_wrong;
    EXPECT_EQ(Ssh(port, sh.ssh_key, "true").first, 0);
    auto [c5, pw] = Ssh(port, "", "true",
                        {"-o", "PubkeyAuthentication=no", "-o",
                         "PreferredAuthentications=password,keyboard-interactive"});
    EXPECT_NE(c5, 0);
    EXPECT_NE(pw.find("Permission denied (publickey)"), std::string::npos) << pw;

    host_key = HostKey(port);
    EXPECT_NE(host_key, "");

    // The supervisor brings a killed sshd back (killing the listener may
    // take this session down with it, so its exit status is not checked).
    auto [c6, before] = Ssh(port, sh.ssh_key, kSshdPids);
    EXPECT_EQ(c6, 0) << before;
    ASSERT_EQ(std::count(before.begin(), before.end(), '\n'), 1) << "one listener: " << before;
    Ssh(port, sh.ssh_key, "kill " + before);
    int back = WaitForSsh(*vm, port, sh.ssh_key, 30);
    EXPECT_GE(back, 0) << "sshd not restarted within 30 s\n" << vm->Output();
    auto [c7, after] = Ssh(port, sh.ssh_key, kSshdPids);
    EXPECT_EQ(c7, 0) << after;
    EXPECT_EQ(std::count(after.begin(), after.end(), '\n'), 1) << "one listener: " << after;
    EXPECT_NE(after, before) << "the same sshd is still running";
    EXPECT_TRUE(vm->WaitFor("initos-sidecar: sshd exited")) << vm->Output();

    // systemctl poweroff in the OS: systemd -> /run/initramfs/shutdown -> off.
    Ssh(port, sh.ssh_key, InOs("/bin/systemctl --no-block poweroff"));
    auto code = vm->WaitExit(Seconds(240));
    ASSERT_TRUE(code) << "no poweroff\n" << vm->Output();
    EXPECT_EQ(*code, 0);
    // The '@' sidecar outlived systemd's killing spree; the shutdown
    // program stopped it before unmounting the state partition.
    const std::string& out = vm->Output();
    size_t shutdown = out.find("initramfs-shutdown: poweroff"),
           stopped = out.find("initos-sidecar: stopped"),
           unmounted = out.find("initramfs-shutdown: unmounted");
    EXPECT_NE(shutdown, std::string::npos) << out;
    EXPECT_NE(stopped, std::string::npos) << out;
    if (AfterOsInit()) {
      // A systemd service: stopped with its unit, before systemd's end.
      EXPECT_TRUE(stopped < shutdown && shutdown < unmounted) << out;
    } else {
      EXPECT_TRUE(shutdown < stopped && stopped < unmounted) << out;
    }
    EXPECT_NE(vm->Output().find("device-mapper device(s), left nothing"), std::string::npos)
        << vm->Output();
  }
  bool clean = false;
  std::string fsck = CheckState(disk, dir, &clean);
  EXPECT_TRUE(clean) << fsck;

  {  // Boot 2: same host key from the state partition; reboot also tears down.
    auto vm = Boot(initramfs, disk, port, TestLogPath() + ".boot2");
    ASSERT_TRUE(vm);
    ASSERT_TRUE(vm->WaitForRegex("Reached target.*Multi-User System", Seconds(400)))
        << vm->Output();
    ASSERT_GE(WaitForSsh(*vm, port, sh.ssh_key, 120), 0) << vm->Output();
    EXPECT_EQ(HostKey(port), host_key);
    // The key planted in boot 1 is on the state partition from the start.
    auto [c16, wrong2] = Ssh(port, sh.wrong_key, "true");
    EXPECT_NE(c16, 0) << wrong2;
    EXPECT_NE(wrong2.find("Permission denied (publickey)"), std::string::npos) << wrong2;
    Ssh(port, sh.ssh_key, InOs("/bin/systemctl --no-block reboot"));
    auto code = vm->WaitExit(Seconds(240));  // -no-reboot: QEMU exits
    ASSERT_TRUE(code) << "no reboot\n" << vm->Output();
    EXPECT_EQ(*code, 0);
    EXPECT_NE(vm->Output().find("initramfs-shutdown: reboot"), std::string::npos) << vm->Output();
  }
  fsck = CheckState(disk, dir, &clean);
  EXPECT_TRUE(clean) << fsck;
}

TEST(SwitchRootBoot, MissingOsInitAppliesTheFailurePolicy) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  Disk disk = MakeDisk(sh, dir);
  std::string initramfs = Initramfs(sh, dir, Config(sh, "os-init = \"/sbin/no-such-init\"\n"));
  ASSERT_FALSE(initramfs.empty());
  auto vm = Boot(initramfs, disk, FreePort(), TestLogPath());
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("stage switch-root failed", kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("/sbin/no-such-init")) << vm->Output();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Output();
  EXPECT_EQ(*code, 0);  // on-failure = poweroff
  EXPECT_EQ(vm->Output().find("exec OS init"), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
}

// The exec of the OS init fails after the root was switched (the Debian
// image's /etc/hostname is a regular file with the exec bit: ENOEXEC). In
// development mode with on-failure = "shell", the recovery shell must be
// the initramfs' busybox (opened before the handover), not a path looked up
// in the OS, which has no /bin/busybox at all.
TEST(SwitchRootBoot, FailedOsInitExecGivesTheInitramfsShell) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  Disk disk = MakeDisk(sh, dir);
  std::string config =
      Config(sh, "os-init = \"/etc/hostname\"\nshell = [\"/bin/busybox\", \"sh\"]\n");
  const std::string policy = "on-failure = \"poweroff\"\n";
  ASSERT_NE(config.find(policy), std::string::npos);
  config.replace(config.find(policy), policy.size(),
                 "on-failure = \"shell\"\ninsecure-dev-mode = true\n");
  std::string initramfs = Initramfs(sh, dir, config);
  ASSERT_FALSE(initramfs.empty());
  auto vm = Boot(initramfs, disk, FreePort(), TestLogPath());
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("stage switch-root failed", kBootTimeout)) << vm->Output();
  // It failed at the exec itself, i.e. after the handover began.
  EXPECT_TRUE(vm->WaitFor("exec OS init /etc/hostname: Exec format error"))
      << "the fixture needs an executable non-program in the image\n"
      << vm->Output();
  bool answered = false;
  for (int i = 0; i < 30 && !answered; ++i) {
    vm->Send("echo SHELL-$((20+22))\n");
    answered = vm->WaitFor("SHELL-42", Seconds(2));
  }
  ASSERT_TRUE(answered) << vm->Output();
  // "/" is the OS now, which has no busybox: the shell runs from the fd.
  vm->Send(
      "[ -e /bin/busybox ] || echo NO-BUSYBOX-$((1+1)); read h < /etc/hostname; echo "
      "HOST-$h\n");
  EXPECT_TRUE(vm->WaitFor("NO-BUSYBOX-2")) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("HOST-initos-debian")) << vm->Output();
  ASSERT_TRUE(vm->Send("exit\n"));
  EXPECT_TRUE(vm->WaitFor("shutdown: reboot")) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
}

}  // namespace
}  // namespace initos::qemu
