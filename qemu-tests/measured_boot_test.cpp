// Measured boot end to end (docs/measured-boot.md): OVMF (no Secure Boot)
// with a swtpm TPM 2.0 boots a UKI (`initos image uki`) from an ESP
// (`initos image esp`); systemd-stub measures the
// UKI into PCR 11, PID 1 verifies the bundle and extends PCR 11 with its
// event. The value PID 1 reads back (TPM2_PCR_Read) and the kernel's own view
// (/sys/class/tpm/tpm0/pcr-sha256/11, read by the image's main program)
// must equal `initos image pcr` on the host for that UKI and bundle. The
// same UKI with a second bundle (another version) gives another value that
// also matches. Two OVMF boots in all (TCG is slow).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "base/spawn.h"
#include "format/tpm2.h"
#include "format/verity.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

constexpr char kOvmfCode[] = "/usr/share/OVMF/OVMF_CODE_4M.fd";
constexpr char kOvmfVars[] = "/usr/share/OVMF/OVMF_VARS_4M.fd";
// OVMF under TCG on a loaded machine: power-on to PID 1 took ~90 s.
constexpr Seconds kFirmwareBootTimeout{400};

const std::vector<std::string> kModules = {"virtio_pci", "virtio_blk", "dm-mod", "dm-verity",
                                           "erofs",      "overlay",    "loop"};

void RunOk(const std::vector<std::string>& argv, std::string* out = nullptr) {
  auto [code, text] = RunCapture(argv);
  ASSERT_EQ(code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ":\n" << text;
  if (out) *out = text;
}

// The image's main program: its version, the status record PID 1 wrote,
// and PCR 11 as the kernel's TPM driver reads it (independent of initos).
std::string MainScript() {
  return "#!/bin/busybox sh\n"
         "B=/bin/busybox\n"
         "echo \"FROM-IMAGE version=$($B cat /etc/version)\"\n"
         "echo \"SYSFS-PCR11=$($B cat /sys/class/tpm/tpm0/pcr-sha256/11)\"\n"
         "echo \"SYSFS-PCR12=$($B cat /sys/class/tpm/tpm0/pcr-sha256/12)\"\n"
         "$B sed 's/^/STATUS /' /run/initos/status\n";
}

std::string BuildBundle(const std::string& dir, int version) {
  std::string tree = dir + "/tree" + std::to_string(version);
  EXPECT_TRUE(MakeDirs(tree + "/bin").ok());
  EXPECT_TRUE(MakeDirs(tree + "/etc").ok());
  fs::copy_file("/bin/busybox", tree + "/bin/busybox", fs::copy_options::overwrite_existing);
  EXPECT_TRUE(WriteStringToFile(tree + "/main.sh", MainScript(), 0755).ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/etc/version", std::to_string(version) + "\n").ok());
  std::string out = dir + "/testos-" + std::to_string(version) + ".bundle";
  RunOk({INITOS_BINARY, "image", "build", "--rootfs", tree, "--key", dir + "/a/signing.key",
         "--name", "testos", "--version", std::to_string(version), "-o", out});
  return out;
}

// The UKI (`initos image uki`: Debian's systemd-stub with the kernel, the
// initramfs and a command line; no_timer_check: under TCG on a loaded host
// the IO-APIC timer check can fail and panic the kernel) and the ESP holding
// it at EFI/BOOT/BOOTX64.EFI (`initos image esp`), the path OVMF boots
// without boot entries.
std::string BuildUki(const std::string& dir, const std::string& initramfs) {
  std::string uki = dir + "/uki.efi";
  RunOk({INITOS_BINARY, "image", "uki", "-o", uki, "--kernel", FindKernel(), "--initramfs",
         initramfs, "--cmdline", "console=ttyS0 panic=-1 no_timer_check"});
  return uki;
}

std::string BuildEsp(const std::string& dir, const std::string& uki) {
  std::string esp = dir + "/esp.img";
  RunOk({INITOS_BINARY, "image", "esp", "-o", esp, "--uki", uki});
  return esp;
}

// A GPT disk whose partition "rootA" holds the bundle.
std::string BuildRootDisk(const std::string& dir, const std::string& bundle,
                          const std::string& name) {
  std::string disk = dir + "/" + name + ".img";
  uint64_t bundle_mib = fs::file_size(bundle) / (1024 * 1024) + 1;
  {
    auto fd = OpenFile(disk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_TRUE(fd.ok());
    EXPECT_EQ(::ftruncate(fd->get(), static_cast<off_t>((bundle_mib + 2) << 20)), 0);
  }
  RunOk({"sgdisk", "-n", "1:2048:+" + std::to_string(bundle_mib) + "M", "-c", "1:rootA", disk});
  RunOk({"dd", "if=" + bundle, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc", "status=none"});
  return disk;
}

// swtpm for one boot: started here, killed (by its pid) when the test ends.
struct Swtpm {
  pid_t pid = -1;
  std::string socket;
  explicit Swtpm(const std::string& dir) {
    std::string state = dir + "/state";
    std::error_code ec;
    fs::remove_all(state, ec);
    EXPECT_TRUE(MakeDirs(state).ok());
    socket = state + "/swtpm.sock";
    SpawnOptions so;
    so.argv = {"swtpm",
               "socket",
               "--tpm2",
               "--tpmstate",
               "dir=" + state,
               "--ctrl",
               "type=unixio,path=" + socket,
               "--flags",
               "startup-clear"};
    auto p = Spawn(so);
    EXPECT_TRUE(p.ok()) << p.error().str();
    if (p.ok()) pid = *p;
    for (int i = 0; i < 100 && ::access(socket.c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(::access(socket.c_str(), F_OK), 0) << "swtpm did not create " << socket;
  }
  ~Swtpm() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// `initos image pcr` on the host, and its event digest.
struct Expected {
  std::string pcr;
  std::string event;
};
Expected HostPcr(const std::string& dir, const std::string& uki, const std::string& bundle) {
  Expected e;
  std::string out;
  RunOk({INITOS_BINARY, "image", "pcr", "--uki", uki, "--bundle", bundle, "--key",
         dir + "/a/signing.pub", "--value-only"},
        &out);
  e.pcr = out.substr(0, out.find('\n'));
  RunOk({INITOS_BINARY, "image", "pcr", "--bundle", bundle}, &out);
  size_t at = out.find("event sha256:");
  EXPECT_NE(at, std::string::npos) << out;
  if (at != std::string::npos) e.event = out.substr(at + 13, 64);
  EXPECT_EQ(e.pcr.size(), 64u) << out;
  return e;
}

struct Measured {
  std::string logged_event, logged_pcr, sysfs_pcr, sysfs_pcr12, status;
};

// OVMF boots the UKI on the first disk's ESP.
QemuOptions FirmwareBoot(const std::string& dir, const std::string& esp, const std::string& disk,
                         const std::string& name) {
  std::string vars = dir + "/" + name + ".vars";
  fs::copy_file(kOvmfVars, vars, fs::copy_options::overwrite_existing);
  QemuOptions o;
  o.firmware_boot = true;
  o.firmware_code = kOvmfCode;
  o.firmware_vars = vars;
  o.disks = {esp, disk};
  return o;
}

// Boots `o` with a fresh swtpm and collects what PID 1 and the image report.
Measured BootAndRead(const std::string& dir, QemuOptions o, const std::string& name) {
  Measured m;
  Swtpm tpm(dir + "/" + name);
  o.tpm_socket = tpm.socket;
  auto q = Qemu::Start(o);
  EXPECT_TRUE(q.ok()) << q.error().str();
  if (!q.ok()) return m;
  Qemu& vm = **q;
  auto line = vm.WaitForRegex(
      R"(measured bundle testos [0-9]+ into PCR 11: event sha256:([0-9a-f]{64}), PCR 11 now ([0-9a-f]{64}))",
      kFirmwareBootTimeout);
  EXPECT_TRUE(line) << vm.Tail();
  if (line) {
    std::smatch sm;
    std::regex_search(*line, sm, std::regex(R"(sha256:([0-9a-f]{64}), PCR 11 now ([0-9a-f]{64}))"));
    m.logged_event = sm[1];
    m.logged_pcr = sm[2];
  }
  auto sysfs = vm.WaitForRegex(R"(SYSFS-PCR11=([0-9A-Fa-f]{64}))");
  EXPECT_TRUE(sysfs) << vm.Tail();
  if (sysfs) m.sysfs_pcr = Lower(sysfs->substr(sysfs->find('=') + 1, 64));
  auto pcr12 = vm.WaitForRegex(R"(SYSFS-PCR12=([0-9A-Fa-f]{64}))");
  EXPECT_TRUE(pcr12) << vm.Tail();
  if (pcr12) m.sysfs_pcr12 = Lower(pcr12->substr(pcr12->find('=') + 1, 64));
  EXPECT_TRUE(vm.WaitExit()) << vm.Tail();
  for (size_t at = 0; (at = vm.Output().find("STATUS ", at)) != std::string::npos; at += 7)
    m.status += vm.Output().substr(at + 7, vm.Output().find('\n', at) - at - 7) + "\n";
  return m;
}

// keygen a, and an initramfs that verifies PARTLABEL=rootA with a.pub and
// runs the image's /main.sh.
std::string BuildTestInitramfs(const std::string& dir) {
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  InitramfsSpec spec;
  spec.config =
      "[init]\nmain = [\"/bin/busybox\", \"sh\", \"/main.sh\"]\non-exit = \"poweroff\"\n"
      "failure-delay-s = 0\nmodules = [\"virtio_pci\", \"virtio_blk\", \"dm-mod\", "
      "\"dm-verity\", \"erofs\", \"overlay\", \"loop\"]\n"
      "[rootfs]\nname = \"testos\"\nkeys = [\"/etc/initos/keys/a.pub\"]\n"
      "image = \"PARTLABEL=rootA\"\n";
  spec.modules = kModules;
  spec.files.push_back({dir + "/a/signing.pub", "/etc/initos/keys/a.pub"});
  auto initramfs = BuildInitramfs(spec, dir);
  EXPECT_TRUE(initramfs.ok()) << initramfs.error().str();
  return initramfs.ok() ? *initramfs : "";
}

TEST(MeasuredBoot, PcrElevenMatchesTheHostForTwoBundles) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  std::string initramfs = BuildTestInitramfs(dir);
  ASSERT_FALSE(initramfs.empty());
  std::string uki = BuildUki(dir, initramfs);
  std::string esp = BuildEsp(dir, uki);

  std::vector<Expected> expected;
  std::vector<Measured> seen;
  for (int version : {3, 4}) {
    std::string bundle = BuildBundle(dir, version);
    expected.push_back(HostPcr(dir, uki, bundle));
    std::string name = "v" + std::to_string(version);
    seen.push_back(
        BootAndRead(dir, FirmwareBoot(dir, esp, BuildRootDisk(dir, bundle, name), name), name));
    const Expected& e = expected.back();
    const Measured& m = seen.back();
    EXPECT_EQ(m.logged_event, e.event) << "version " << version;
    EXPECT_EQ(m.logged_pcr, e.pcr) << "version " << version << ": PID 1's TPM2_PCR_Read";
    EXPECT_EQ(m.sysfs_pcr, e.pcr) << "version " << version << ": the kernel's view";
    EXPECT_NE(m.status.find("measured=pcr11\n"), std::string::npos) << m.status;
    // No boot loader command line, credentials or sysexts: the stub left
    // PCR 12 alone (docs/measured-boot.md says why a verifier checks it).
    EXPECT_EQ(m.sysfs_pcr12, std::string(64, '0'));
    EXPECT_NE(m.status.find("measured-pcr=" + e.pcr + "\n"), std::string::npos) << m.status;
  }
  EXPECT_NE(expected[0].pcr, expected[1].pcr);
  EXPECT_NE(seen[0].sysfs_pcr, seen[1].sysfs_pcr);
  // The UKI part is the same for both: each value is it extended by the event.
  std::string uki_only;
  RunOk({INITOS_BINARY, "image", "pcr", "--uki", uki, "--value-only"}, &uki_only);
  auto digest = [](const std::string& hex) {
    Sha256Digest d{};
    auto bytes = HexDecode(hex);
    EXPECT_TRUE(bytes.ok() && bytes->size() == 32) << hex;
    if (bytes.ok() && bytes->size() == 32) std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
  };
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(HexOf(ExtendSha256(digest(uki_only.substr(0, 64)), digest(expected[i].event))),
              expected[i].pcr);
}

// A direct kernel boot (QEMU loads kernel and initramfs, no firmware, no
// stub): nothing but PID 1 extends PCR 11, so it holds
// extend(0^32, event), which `initos image pcr --bundle` alone prints.
TEST(MeasuredBoot, DirectKernelBootIsTheBundleEventAlone) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  std::string initramfs = BuildTestInitramfs(dir);
  ASSERT_FALSE(initramfs.empty());
  std::string bundle = BuildBundle(dir, 5);
  std::string want;
  RunOk({INITOS_BINARY, "image", "pcr", "--bundle", bundle, "--key", dir + "/a/signing.pub",
         "--value-only"},
        &want);
  QemuOptions o = BootOptions(initramfs);
  o.disks = {BuildRootDisk(dir, bundle, "v5")};
  Measured m = BootAndRead(dir, o, "v5");
  EXPECT_EQ(m.logged_pcr + "\n", want);
  EXPECT_EQ(m.sysfs_pcr + "\n", want);
  EXPECT_EQ(m.sysfs_pcr12, std::string(64, '0'));
}

}  // namespace
}  // namespace initos::qemu
