// The A/B upgrade fixture the upgrade boot tests share (upgrade_fixture.h).
#include "qemu-tests/upgrade_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "base/file.h"

namespace initos::qemu {

namespace fs = std::filesystem;

namespace {

// Deterministic bytes (xorshift): the same in every version, so unchanged
// files are the same blocks across versions.
std::string Noise(size_t size, uint64_t seed) {
  std::string s(size, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

// The OS init: one marker line on the console, then idle. PID 1 of the
// machine from here on; it never exits (that would panic the kernel).
constexpr const char kOsInit[] =
    "#!/bin/busybox sh\n"
    "B=/bin/busybox\n"
    "echo \"UPOS-MAIN version=$($B cat /etc/version) marker=$($B cat /etc/marker)\"\n"
    "while :; do $B sleep 3600; done\n";

// Serializes fixture builds across parallel test processes.
class DirLock {
 public:
  explicit DirLock(const std::string& dir)
      : fd_(::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    ::flock(fd_.get(), LOCK_EX);
  }

 private:
  unique_fd fd_;
};

}  // namespace

const UpgradeShared& GetUpgradeShared() {
  static UpgradeShared s = [] {
    UpgradeShared s;
    s.dir = (fs::path(TestWorkDir()).parent_path() / "upgrade-shared").string();
    fs::create_directories(s.dir);
    DirLock lock(s.dir);
    s.key_dir = s.dir + "/trusted";
    s.other_dir = s.dir + "/other";
    s.ssh_key = s.dir + "/id_test";
    // The binary changed: every bundle is rebuilt with it.
    std::string stamp =
        std::to_string(fs::last_write_time(INITOS_BINARY).time_since_epoch().count());
    auto old = ReadFileToString(s.dir + "/stamp");
    if (old.ok() && *old == stamp && fs::exists(s.ssh_key) &&
        fs::exists(s.key_dir + "/signing.key"))
      return s;
    for (const auto& e : fs::directory_iterator(s.dir))
      if (e.path().filename() != ".lock") fs::remove_all(e.path());
    Run({INITOS_BINARY, "image", "keygen", "-o", s.key_dir}, &s.error);
    Run({INITOS_BINARY, "image", "keygen", "-o", s.other_dir}, &s.error);
    Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "initos-test", "-f", s.ssh_key},
        &s.error);
    if (s.error.empty()) (void)WriteStringToFile(s.dir + "/stamp", stamp);
    return s;
  }();
  return s;
}

std::string UpgradeBundle(uint64_t version, Variant variant, bool other_key) {
  const UpgradeShared& sh = GetUpgradeShared();
  EXPECT_EQ(sh.error, "");
  static const char* const kVariantName[] = {"base", "onefile", "all"};
  std::string name = std::string(kUpgradeName) + "-v" + std::to_string(version) + "-" +
                     kVariantName[static_cast<int>(variant)] + (other_key ? "-other" : "");
  std::string out = sh.dir + "/" + name + ".bundle";
  DirLock lock(sh.dir);
  if (fs::exists(out)) return out;
  std::string tree = sh.dir + "/" + name + ".tree";
  fs::remove_all(tree);
  for (const char* d : {"/bin", "/sbin", "/etc", "/data", "/dev", "/proc", "/sys", "/run", "/tmp"})
    EXPECT_TRUE(MakeDirs(tree + d).ok());
  fs::copy_file("/bin/busybox", tree + "/bin/busybox", fs::copy_options::overwrite_existing);
  EXPECT_TRUE(WriteStringToFile(tree + "/sbin/init", kOsInit, 0755).ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/etc/version", std::to_string(version) + "\n").ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/etc/marker", std::string(kUpgradeName) + "\n").ok());
  // 512 KiB that no version changes unless every file changes, and 16 KiB
  // that the one-file variant rewrites.
  bool all = variant == Variant::kAllChanged;
  EXPECT_TRUE(
      WriteStringToFile(tree + "/data/blob", Noise(512 << 10, all ? 1000 + version : 1)).ok());
  uint64_t small_seed = variant == Variant::kBase ? 2 : 2000 + version;
  EXPECT_TRUE(WriteStringToFile(tree + "/data/small", Noise(16 << 10, small_seed)).ok());
  std::string key = (other_key ? sh.other_dir : sh.key_dir) + "/signing.key";
  std::string err;
  // A fixed epoch: the same tree gives the same bytes, so reruns reuse
  // blocks exactly as a release pipeline's would.
  Run({"env", "SOURCE_DATE_EPOCH=1700000000", INITOS_BINARY, "image", "build", "--rootfs", tree,
       "--key", key, "--name", kUpgradeName, "--version", std::to_string(version), "-o",
       out + ".tmp"},
      &err);
  EXPECT_EQ(err, "");
  if (!err.empty()) return "";
  fs::rename(out + ".tmp", out);
  fs::remove_all(tree);
  return out;
}

SlotsDisk MakeSlotsDisk(const std::string& dir, const std::string& slot_a,
                        const std::string& slot_b) {
  SlotsDisk d;
  std::string files[2] = {dir + "/os-a.img", dir + "/os-b.img"};
  const std::string* src[2] = {&slot_a, &slot_b};
  for (int i = 0; i < 2; ++i) {
    fs::remove(files[i]);
    if (!src[i]->empty()) fs::copy_file(*src[i], files[i]);
    unique_fd fd(::open(files[i].c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    EXPECT_LE(fs::file_size(files[i]), static_cast<uint64_t>(kSlotMiB) << 20) << *src[i];
    EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kSlotMiB) << 20), 0);
  }
  d.disk = MakeDisk(dir, {{"os-a", files[0]}, {"os-b", files[1]}});
  // MakeDisk starts at 1 MiB and lays the partitions out back to back.
  d.slot_offset[0] = 1 << 20;
  d.slot_offset[1] = d.slot_offset[0] + (static_cast<uint64_t>(kSlotMiB) << 20);
  EXPECT_EQ(d.disk.state_offset, d.slot_offset[1] + (static_cast<uint64_t>(kSlotMiB) << 20));
  return d;
}

std::pair<std::string, std::string> SlotHashes(const SlotsDisk& d) {
  std::string h[2];
  for (int i = 0; i < 2; ++i) {
    auto [code, out] = RunCapture(
        {"sh", "-c",
         "dd if='" + d.disk.path + "' bs=1M skip=" + std::to_string(d.slot_offset[i] >> 20) +
             " count=" + std::to_string(kSlotMiB) + " status=none | sha256sum"});
    EXPECT_EQ(code, 0) << out;
    h[i] = out.substr(0, 64);
  }
  return {h[0], h[1]};
}

std::string UpgradeInitramfs(const std::string& dir, int tries) {
  const UpgradeShared& sh = GetUpgradeShared();
  std::string config = "[init]\nmode = \"switch-root\"\nfailure-delay-s = 0\n" + Modules() +
                       "[rootfs]\nslots = [\"PARTLABEL=os-a\", \"PARTLABEL=os-b\"]\ntries = " +
                       std::to_string(tries) + "\nname = \"" + kUpgradeName +
                       "\"\nkeys = [\"/etc/initos/keys/dev.pub\"]\non-failure = \"poweroff\"\n"
                       "[state]\ndevice = \"LABEL=" +
                       kStateLabel + "\"\n[sidecar]\nenable = true\nauthorized-keys = [\"" +
                       PublicKey(sh.ssh_key) + "\"]\n";
  InitramfsSpec spec;
  spec.config = config;
  spec.modules = {"virtio_pci", "virtio_blk", "virtio_net", "dm-mod",
                  "dm-verity",  "erofs",      "overlay",    "loop"};
  spec.files.push_back({sh.key_dir + "/signing.pub", "/etc/initos/keys/dev.pub"});
  spec.texts.push_back({kNetworkUp, "/etc/initos/network-up"});
  spec.with_sshd = true;
  spec.busybox = false;
  auto img = BuildInitramfs(spec, dir);
  EXPECT_TRUE(img.ok()) << img.error().str();
  return img.ok() ? *img : "";
}

std::optional<BootedSlot> WaitBooted(Qemu& vm, Seconds timeout) {
  BootedSlot b;
  auto line = vm.WaitForRegex(
      std::string("rootfs: ") + kUpgradeName + R"( version [0-9]+ from PARTLABEL=os-[ab] verified)",
      timeout);
  if (!line) {
    ADD_FAILURE() << "no verified slot\n" << vm.Tail(60);
    return std::nullopt;
  }
  std::smatch m;
  std::regex_search(*line, m, std::regex(R"(version ([0-9]+) from PARTLABEL=os-([ab]))"));
  b.version = std::stoull(m[1]);
  b.slot = m[2].str()[0];
  auto os = vm.WaitForRegex(R"(UPOS-MAIN version=[0-9]+ marker=upos)", kStepTimeout);
  if (!os) {
    ADD_FAILURE() << "the OS on slot " << b.slot << " did not start\n" << vm.Tail(60);
    return std::nullopt;
  }
  std::regex_search(*os, m, std::regex(R"(version=([0-9]+))"));
  b.os_version = std::stoull(m[1]);
  return b;
}

std::unique_ptr<Qemu> BootSlots(const std::string& initramfs, const SlotsDisk& d, int port,
                                const std::string& log) {
  QemuOptions o = BootOptions(initramfs);
  o.disks = {d.disk.path};
  o.hostfwd = {{port, 22}};
  o.memory_mb = 512;
  o.log_path = log;
  auto q = Qemu::Start(o);
  EXPECT_TRUE(q.ok()) << q.error().str();
  return q.ok() ? std::move(*q) : nullptr;
}

std::pair<int, std::string> SshWithInput(int port, const std::string& key, const std::string& cmd,
                                         const std::string& stdin_path) {
  std::string line =
      "exec timeout 300 ssh -p " + std::to_string(port) +
      " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
      " -o ConnectTimeout=10 -o BatchMode=yes -o IdentitiesOnly=yes -i '" +
      key + "' root@127.0.0.1 '" + cmd + "' < '" + stdin_path + "'";
  return RunCapture({"sh", "-c", line});
}

void RebootFromSidecar(std::unique_ptr<Qemu>& vm, int port, const std::string& key) {
  // The session dies with the machine: its status says nothing.
  Ssh(port, key, "sync; /bin/busybox reboot -f");
  if (!vm->WaitExit(Seconds(20))) {
    // Killed after the sync: what the guest wrote is on the disk.
    Ssh(port, key, "sync");
  }
  vm.reset();
}

}  // namespace initos::qemu
