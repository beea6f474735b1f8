// The Debian fixture the switch-root and jail-mode boot tests share.
#include "qemu-tests/debian_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "base/file.h"

namespace initos::qemu {

namespace fs = std::filesystem;

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

Disk MakeDisk(const std::string& dir,
              const std::vector<std::pair<std::string, std::string>>& partitions) {
  Disk d;
  d.path = dir + "/disk.img";
  std::vector<std::string> sgdisk = {"sgdisk"};
  std::vector<std::pair<uint64_t, std::string>> copies;  // MiB offset, file
  uint64_t at_mib = 1;
  int n = 1;
  for (const auto& [label, file] : partitions) {
    uint64_t mib = (fs::file_size(file) + (1 << 20) - 1) >> 20;
    std::string num = std::to_string(n++);
    sgdisk.insert(
        sgdisk.end(),
        {"-n", num + ":" + std::to_string(at_mib * 2048) + ":+" + std::to_string(mib) + "M", "-c",
         num + ":" + label});
    copies.push_back({at_mib, file});
    at_mib += mib;
  }
  uint64_t state_start = at_mib * 2048;  // sectors
  d.state_offset = state_start * 512;
  std::string num = std::to_string(n);
  sgdisk.insert(
      sgdisk.end(),
      {"-n", num + ":" + std::to_string(state_start) + ":+" + std::to_string(kStateMiB) + "M", "-c",
       num + ":state"});
  uint64_t total_mib = at_mib + kStateMiB + 1;
  {
    unique_fd fd(::open(d.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(total_mib << 20)), 0);
  }
  sgdisk.push_back(d.path);
  std::string err;
  Run(sgdisk, &err);
  std::string state = dir + "/state.ext4";
  Run({"mkfs.ext4", "-q", "-F", "-L", kStateLabel, state, std::to_string(kStateMiB) + "M"}, &err);
  copies.push_back({at_mib, state});
  for (const auto& [mib, file] : copies)
    Run({"dd", "if=" + file, "of=" + d.path, "bs=1M", "seek=" + std::to_string(mib), "conv=notrunc",
         "status=none"},
        &err);
  EXPECT_EQ(err, "");
  return d;
}

Disk MakeDisk(const Shared& sh, const std::string& dir) {
  return MakeDisk(dir, {{"debian", sh.bundle}});
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

std::string Modules() {  // the config line for Initramfs' modules
  return "modules = [\"virtio_pci\", \"virtio_blk\", \"virtio_net\", \"dm-mod\", \"dm-verity\", "
         "\"erofs\", \"overlay\", \"loop\"]\n";
}

std::string PublicKey(const std::string& key_path) {
  auto pub = ReadFileToString(key_path + ".pub");
  std::string key = pub.ok() ? *pub : "";
  while (!key.empty() && key.back() == '\n') key.pop_back();
  return key;
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
extern const char kNetworkUp[] =
    "#!/bin/busybox sh\n"
    "B=/bin/busybox\n"
    "$B ip link set lo up\n"
    "$B ip link set eth0 up\n"
    "$B ip addr add 10.0.2.15/24 dev eth0\n"
    "$B ip route add default via 10.0.2.2\n";

std::string Initramfs(const Shared& sh, const std::string& dir, const std::string& config,
                      const std::vector<std::string>& extra_modules) {
  InitramfsSpec spec;
  spec.config = config;
  spec.modules = {"virtio_pci", "virtio_blk", "virtio_net", "dm-mod",
                  "dm-verity",  "erofs",      "overlay",    "loop"};
  spec.modules.insert(spec.modules.end(), extra_modules.begin(), extra_modules.end());
  spec.files.push_back({sh.signing_pub, "/etc/initos/keys/dev.pub"});
  spec.texts.push_back({kNetworkUp, "/etc/initos/network-up"});
  spec.with_sshd = true;  // brings /bin/busybox too
  spec.busybox = false;
  auto img = BuildInitramfs(spec, dir);
  EXPECT_TRUE(img.ok()) << img.error().str();
  return img.ok() ? *img : "";
}

std::unique_ptr<Qemu> Boot(const std::string& initramfs, const Disk& d, int port,
                           const std::string& log, const std::string& append) {
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
                                std::vector<std::string> extra) {
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

}  // namespace initos::qemu
