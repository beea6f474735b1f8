// Boots PID 1 with rootfs.image set against real disks under QEMU: the
// program from a signed bundle runs, and every kind of tampering is refused
// with its own message and without running anything from the image.
// Each test is one boot (ctest runs them in parallel).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <regex>

#include "base/file.h"
#include "image/bundle.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

constexpr const char kModules[] =
    "modules = [\"virtio_pci\", \"virtio_blk\", \"dm-mod\", \"dm-verity\", \"erofs\", "
    "\"overlay\", \"loop\"]\n";
const std::vector<std::string> kModuleList = {"virtio_pci", "virtio_blk", "dm-mod", "dm-verity",
                                              "erofs",      "overlay",    "loop"};
constexpr const char kFromImage[] = "FROM-IMAGE";
// The GPT type GUID of the state partition (systemd's "Linux variable data").
constexpr const char kStateType[] = "4d21b016-b534-45c2-a9fb-5c16e091fd2d";
const std::string kStateCreate =
    std::string("[state]\ndevice = \"PARTLABEL=state\"\ncreate = true\n") + "partition-type = \"" +
    kStateType + "\"\n";
constexpr const char kRefusedSig[] =
    "rootfs: signature of PARTLABEL=rootA does not match any of 1 trusted key "
    "(/etc/initos/keys/a.pub)";

// Only the image's /main.sh prints "FROM-IMAGE <marker>"; the marker is only
// in the image's /etc/marker, so it cannot come from the initramfs.
std::string MainScript() {
  return "#!/bin/busybox sh\n"
         "B=/bin/busybox\n"
         "echo \"FROM-IMAGE $($B cat /etc/marker) version=$($B cat /etc/version)\"\n"
         "echo \"ROOT-DEV $($B awk '$2==\"/run/initos/lower\"{print $1\" \"$3}' /proc/mounts)\"\n"
         "if $B cat /data/blob > /dev/null; then echo BLOB-READ-OK; else echo BLOB-READ-FAILED; "
         "fi\n"
         "if [ -f /extra.sh ]; then $B sh /extra.sh; fi\n"
         "$B sync\n";
}

// A 256 KiB file of numbered lines: easy to find in the bundle, easy to corrupt.
std::string Blob() {
  std::string s;
  char line[32];
  for (int i = 0; s.size() < 256 * 1024; ++i) {
    std::snprintf(line, sizeof(line), "BLOB-LINE-%010d\n", i);
    s += line;
  }
  return s;
}

uint64_t Find(const std::string& file, const std::string& needle, uint64_t from = 0) {
  auto text = ReadFileToString(file);
  EXPECT_TRUE(text.ok());
  size_t at = text->find(needle, from);
  EXPECT_NE(at, std::string::npos) << needle;
  return at;
}

void FlipBit(const std::string& file, uint64_t offset) {
  auto fd = OpenFile(file, O_RDWR);
  ASSERT_TRUE(fd.ok());
  char c = 0;
  ASSERT_EQ(::pread(fd->get(), &c, 1, static_cast<off_t>(offset)), 1);
  c ^= 0x01;
  ASSERT_EQ(::pwrite(fd->get(), &c, 1, static_cast<off_t>(offset)), 1);
}

void RunOk(const std::vector<std::string>& argv) {
  auto [code, out] = RunCapture(argv);
  ASSERT_EQ(code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ":\n" << out;
}

struct Bundle {
  std::string dir;
  std::string marker;
  std::string bundle;
  Manifest manifest;
  BundleHeader header;
};

struct ImageOptions {
  std::string name = "testos";
  int version = 3;
  std::string extra_script;  // becomes /extra.sh, run by /main.sh
};

// An image tree with its own marker, built and signed with s.dir/a into `out`.
std::string BuildImage(const Bundle& s, const std::string& out, const std::string& marker,
                       const ImageOptions& o) {
  std::string tree = out + ".tree";
  EXPECT_TRUE(MakeDirs(tree + "/bin").ok());
  EXPECT_TRUE(MakeDirs(tree + "/etc").ok());
  EXPECT_TRUE(MakeDirs(tree + "/data").ok());
  fs::copy_file("/bin/busybox", tree + "/bin/busybox", fs::copy_options::overwrite_existing);
  EXPECT_TRUE(WriteStringToFile(tree + "/main.sh", MainScript(), 0755).ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/etc/marker", marker + "\n").ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/etc/version", std::to_string(o.version) + "\n").ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/data/blob", Blob()).ok());
  if (!o.extra_script.empty())
    EXPECT_TRUE(WriteStringToFile(tree + "/extra.sh", o.extra_script, 0755).ok());
  RunOk({INITOS_BINARY, "image", "build", "--rootfs", tree, "--key", s.dir + "/a/signing.key",
         "--name", o.name, "--version", std::to_string(o.version), "-o", out});
  return out;
}

std::string NewMarker() {
  static std::mt19937_64 rng{std::random_device{}()};
  return "m" + std::to_string(rng() % 1000000000);
}

// keygen a and b, an image tree, `initos image build` (version 3).
Bundle MakeBundle(const ImageOptions& o = {}) {
  Bundle s;
  s.dir = TestWorkDir();
  s.marker = NewMarker();
  RunOk({INITOS_BINARY, "image", "keygen", "-o", s.dir + "/a"});
  RunOk({INITOS_BINARY, "image", "keygen", "-o", s.dir + "/b"});
  s.bundle = BuildImage(s, s.dir + "/testos.bundle", s.marker, o);
  auto fd = OpenFile(s.bundle, O_RDONLY);
  EXPECT_TRUE(fd.ok());
  auto b = ReadBundle(fd->get());
  EXPECT_TRUE(b.ok()) << b.error().str();
  if (b.ok()) {
    s.manifest = b->manifest;
    s.header = b->header;
  }
  return s;
}

// A GPT disk with one partition named `partlabel` holding the bundle.
std::string GptDisk(const Bundle& s, const std::string& partlabel = "rootA") {
  std::string disk = s.dir + "/disk.img";
  uint64_t size = fs::file_size(s.bundle);
  uint64_t part_kib = (size + 1024 * 1024 - 1) / (1024 * 1024) * 1024;
  {
    auto fd = OpenFile(disk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_TRUE(fd.ok());
    EXPECT_EQ(::ftruncate(fd->get(), static_cast<off_t>((part_kib + 2048) * 1024)), 0);
  }
  RunOk(
      {"sgdisk", "-n", "1:2048:+" + std::to_string(part_kib) + "K", "-c", "1:" + partlabel, disk});
  RunOk({"dd", "if=" + s.bundle, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc", "status=none"});
  return disk;
}

// A GPT disk: partition 1 "rootA" holds the bundle, partition 2 "state"
// (16 MiB) holds `state_bytes` followed by zeros.
std::string GptDiskWithState(const Bundle& s, const std::string& state_bytes, uint64_t* state_off) {
  std::string disk = s.dir + "/disk-state.img";
  uint64_t size = fs::file_size(s.bundle);
  uint64_t part_kib = (size + 1024 * 1024 - 1) / (1024 * 1024) * 1024;
  constexpr uint64_t kStateKib = 16 * 1024;
  {
    auto fd = OpenFile(disk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_TRUE(fd.ok());
    EXPECT_EQ(::ftruncate(fd->get(), static_cast<off_t>((part_kib + kStateKib + 2048) * 1024)), 0);
  }
  uint64_t state_sector = 2048 + part_kib * 2;
  RunOk({"sgdisk", "-n", "1:2048:+" + std::to_string(part_kib) + "K", "-c", "1:rootA", "-n",
         "2:" + std::to_string(state_sector) + ":+" + std::to_string(kStateKib) + "K", "-c",
         "2:state", "-t", std::string("2:") + kStateType, disk});
  RunOk({"dd", "if=" + s.bundle, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc", "status=none"});
  *state_off = state_sector * 512;
  if (!state_bytes.empty()) {
    auto fd = OpenFile(disk, O_WRONLY);
    EXPECT_TRUE(fd.ok());
    EXPECT_EQ(
        ::pwrite(fd->get(), state_bytes.data(), state_bytes.size(), static_cast<off_t>(*state_off)),
        static_cast<ssize_t>(state_bytes.size()));
  }
  return disk;
}

// The 16 MiB state partition of GptDiskWithState, copied out for host tools.
std::string ExtractState(const std::string& disk, uint64_t off, const std::string& out) {
  RunOk({"dd", "if=" + disk, "of=" + out, "bs=1M", "skip=" + std::to_string(off) + "B", "count=16",
         "iflag=skip_bytes", "status=none"});
  return out;
}

// An ext4 filesystem labelled `label` with the contents of `tree`.
std::string Ext4Disk(const Bundle& s, const std::string& name, const std::string& label,
                     const std::string& tree, int mib) {
  std::string disk = s.dir + "/" + name;
  RunOk({"mkfs.ext4", "-q", "-F", "-L", label, "-d", tree, disk, std::to_string(mib) + "M"});
  return disk;
}

std::string Config(const std::string& rootfs_extra, const std::string& extra = "") {
  return std::string(
             "[init]\nmain = [\"/bin/busybox\", \"sh\", \"/main.sh\"]\n"
             "on-exit = \"poweroff\"\nfailure-delay-s = 0\n") +
         kModules + "[rootfs]\nname = \"testos\"\nkeys = [\"/etc/initos/keys/a.pub\"]\n" +
         rootfs_extra + extra;
}

std::unique_ptr<Qemu> Boot(const Bundle& s, const std::string& config,
                           std::vector<std::string> disks, const std::string& key = "a",
                           const std::string& append = "") {
  InitramfsSpec spec;
  spec.config = config;
  spec.modules = kModuleList;
  spec.files.push_back({s.dir + "/" + key + "/signing.pub", "/etc/initos/keys/a.pub"});
  auto img = BuildInitramfs(spec, s.dir);
  EXPECT_TRUE(img.ok()) << img.error().str();
  if (!img.ok()) return nullptr;
  QemuOptions o = BootOptions(*img, append);
  o.disks = std::move(disks);
  auto q = Qemu::Start(o);
  EXPECT_TRUE(q.ok()) << q.error().str();
  if (!q.ok()) return nullptr;
  return std::move(*q);
}

// Boots and expects the stage to refuse with `message`; nothing from the image runs.
void ExpectRefused(const Bundle& s, const std::string& config, std::vector<std::string> disks,
                   const std::string& message, const std::string& key = "a",
                   std::string* output = nullptr, const std::string& append = "") {
  auto vm = Boot(s, config, std::move(disks), key, append);
  ASSERT_TRUE(vm);
  // The stage's one line, as PID 1 logs it (the whole line: WaitFor reads on
  // until it has arrived).
  EXPECT_TRUE(vm->WaitFor("stage rootfs failed", kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor(message)) << "expected: " << message << "\n" << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << "no reboot after the refusal\n" << vm->Output();
  EXPECT_EQ(vm->Output().find(kFromImage), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
  if (output) *output = vm->Output();
}

TEST(RootfsBoot, RunsMainProgramFromVerifiedImageAndRecordsIt) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_TRUE(MakeDirs(s.dir + "/state-tree").ok());
  std::string state = Ext4Disk(s, "state.img", "state", s.dir + "/state-tree", 16);
  auto vm = Boot(s,
                 Config("image = \"PARTLABEL=rootA\"\nmin-version = 2\n",
                        "[state]\ndevice = \"LABEL=state\"\n"),
                 {GptDisk(s), state});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("stage rootfs done", kBootTimeout)) << vm->Output();
  ASSERT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker + " version=3")) << vm->Output();
  // EROFS straight from the dm-verity device, and the blob reads back fine.
  EXPECT_TRUE(vm->WaitForRegex(R"(ROOT-DEV /dev/dm-[0-9]+ erofs)")) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("BLOB-READ-OK")) << vm->Output();
  EXPECT_TRUE(vm->Output().find("rootfs: recorded testos version 3 as booted") != std::string::npos)
      << vm->Output();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Output();
  EXPECT_EQ(*code, 0);
  // The record on the state partition, read offline.
  RunOk({"e2fsck", "-fy", state});
  auto [rc, out] = RunCapture({"debugfs", "-R", "cat /initos/booted-version", state});
  EXPECT_NE(out.find("testos 3 " + s.manifest.root_hash + "\n"), std::string::npos) << out;
}

TEST(RootfsBoot, BundleFileOnExt4Label) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_TRUE(MakeDirs(s.dir + "/imgs/os").ok());
  fs::copy_file(s.bundle, s.dir + "/imgs/os/testos.bundle");
  std::string disk = Ext4Disk(s, "imgs.img", "imgs", s.dir + "/imgs", 32);
  auto vm = Boot(s, Config("image = \"LABEL=imgs:/os/testos.bundle\"\n"), {disk});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker, kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("BLOB-READ-OK")) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
}

TEST(RootfsBoot, FlippedManifestBitIsRefused) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  FlipBit(s.bundle, Find(s.bundle, "version=3\n"));  // version=3 -> version=2
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s)}, kRefusedSig);
}

TEST(RootfsBoot, FlippedSignatureBitIsRefused) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_FALSE(s.header.signature.empty());
  FlipBit(s.bundle, Find(s.bundle, s.header.signature) + 7);
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s)}, kRefusedSig);
}

// Verified mode (issue 13): the initramfs trusts only b, on-failure = shell
// without insecure-dev-mode must not give a shell, and a hostile kernel
// command line (what a boot loader could pass with Secure Boot off) cannot
// weaken anything: each key is ignored with its own line, the image is still
// refused.
TEST(RootfsBoot, WrongKeyIsRefusedAndNeitherShellNorCmdlineHelp) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"rootfs.min-version", "0"},         {"rootfs.on-failure", "shell"},
      {"rootfs.insecure-dev-mode", "1"},   {"rootfs.keys", "/etc/initos/keys/evil.pub"},
      {"rootfs.image", "PARTLABEL=rootB"}, {"init.allow-shell", "1"},
  };
  std::string append;
  for (const auto& [k, v] : hostile) append += " initos." + k + "=" + v;
  std::string out;
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\non-failure = \"shell\"\nmin-version = 2\n"),
                {GptDisk(s)}, kRefusedSig, "b", &out, append);
  for (const auto& [k, v] : hostile) {
    EXPECT_NE(out.find("initos." + k + ": refused"), std::string::npos) << k << "\n" << out;
    EXPECT_NE(out.find("; ignored initos." + k + "=" + v + ", the signed config's value stays"),
              std::string::npos)
        << k << "\n"
        << out;
  }
  EXPECT_NE(out.find("would lower the anti-rollback floor below 2"), std::string::npos) << out;
  EXPECT_NE(out.find("secure boot: unknown (no EFI firmware), verified mode"), std::string::npos)
      << out;
  EXPECT_NE(out.find("rootfs.on-failure = \"shell\" refused"), std::string::npos) << out;
  EXPECT_EQ(out.find("INSECURE"), std::string::npos) << out;
  EXPECT_EQ(out.find("DEVELOPMENT MODE"), std::string::npos) << out;
}

// Development mode (signed config only): an image no trusted key signed
// boots, with the warning on every boot even when the command line lowers
// init.log-level.
TEST(RootfsBoot, DevelopmentModeBootsAnImageNoTrustedKeySigned) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  auto vm = Boot(s, Config("image = \"PARTLABEL=rootA\"\ninsecure-dev-mode = true\n"), {GptDisk(s)},
                 "b", "initos.init.log-level=crit");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker, kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  const std::string out = vm->Output();
  EXPECT_NE(out.find("DEVELOPMENT MODE (rootfs.insecure-dev-mode): kernel command-line overrides"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("secure boot: unknown (no EFI firmware), DEVELOPMENT MODE"), std::string::npos)
      << out;
  EXPECT_NE(out.find("rootfs: DEVELOPMENT MODE: signature of PARTLABEL=rootA does not match any "
                     "trusted key (/etc/initos/keys/a.pub); booting it anyway"),
            std::string::npos)
      << out;
  EXPECT_LT(out.find("DEVELOPMENT MODE: signature"), out.find(kFromImage)) << out;
  EXPECT_TRUE(vm->WaitFor("BLOB-READ-OK")) << out;  // still through dm-verity
}

TEST(RootfsBoot, InsecureDevModeGivesInitramfsShellThenReboots) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  // Development mode boots another key's image, but not one whose EROFS
  // superblock fails dm-verity: that failure opens the shell.
  FlipBit(s.bundle, s.manifest.data_offset + 1024 + 100);
  std::string config =
      Config("image = \"PARTLABEL=rootA\"\non-failure = \"shell\"\ninsecure-dev-mode = true\n");
  config.insert(config.find("[rootfs]"), "shell = [\"/bin/busybox\", \"sh\"]\n");
  auto vm = Boot(s, config, {GptDisk(s)}, "b");
  ASSERT_TRUE(vm);
  // Warned on every boot, refused, then the shell from the initramfs.
  EXPECT_TRUE(vm->WaitFor("rootfs.insecure-dev-mode is ON", kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("rootfs: DEVELOPMENT MODE: signature of PARTLABEL=rootA"))
      << vm->Output();
  EXPECT_TRUE(vm->WaitFor("rootfs: mount the verified EROFS from /dev/dm-")) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("INSECURE: starting the recovery shell")) << vm->Output();
  ASSERT_TRUE(vm->Send("echo SHELL-$((20+22))\n"));
  EXPECT_TRUE(vm->WaitFor("SHELL-42")) << vm->Output();
  ASSERT_TRUE(vm->Send("exit\n"));
  EXPECT_TRUE(vm->WaitFor("shutdown: reboot")) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  EXPECT_EQ(vm->Output().find(kFromImage), std::string::npos) << vm->Output();
}

TEST(RootfsBoot, FlippedHashTreeBitIsRefusedAtBoot) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  // The top tree level, right after the verity superblock: every read fails.
  FlipBit(s.bundle, s.manifest.hash_offset + s.manifest.hash_block_size + 3);
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s)},
                "rootfs: mount the verified EROFS from /dev/dm-");
}

TEST(RootfsBoot, FlippedSuperblockBitIsRefusedAtBoot) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  FlipBit(s.bundle, s.manifest.data_offset + 1024 + 100);  // inside the EROFS superblock
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s)},
                "rootfs: mount the verified EROFS from /dev/dm-");
}

TEST(RootfsBoot, CorruptedDataBlockReadsAsEioNeverWrongData) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  uint64_t at = Find(s.bundle, "BLOB-LINE-0000000100\n", s.manifest.data_offset);
  ASSERT_LT(at, s.manifest.data_offset + s.manifest.data_size);
  FlipBit(s.bundle, at + 12);  // '0' -> '1': a plausible but wrong line
  auto vm = Boot(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s)});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker, kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("BLOB-READ-FAILED")) << vm->Output();
  EXPECT_NE(vm->Output().find("Input/output error"), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("BLOB-READ-OK"), std::string::npos) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
}

TEST(RootfsBoot, VersionBelowMinVersionIsRefused) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\nmin-version = 5\n"), {GptDisk(s)},
                "rootfs: PARTLABEL=rootA: image version 3 is below the minimum 5 "
                "(rootfs.min-version); refusing rollback");
}

TEST(RootfsBoot, VersionBelowHighestBootedIsRefused) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_TRUE(MakeDirs(s.dir + "/state-tree/initos").ok());
  ASSERT_TRUE(WriteStringToFile(s.dir + "/state-tree/initos/booted-version",
                                "testos 7 " + s.manifest.root_hash + "\n")
                  .ok());
  std::string state = Ext4Disk(s, "state.img", "state", s.dir + "/state-tree", 16);
  ExpectRefused(s,
                Config("image = \"PARTLABEL=rootA\"\nmin-version = 1\n",
                       "[state]\ndevice = \"LABEL=state\"\n"),
                {GptDisk(s), state},
                "rootfs: PARTLABEL=rootA: image version 3 is below the minimum 7 (highest "
                "booted); refusing rollback");
}

TEST(RootfsBoot, EmptyStatePartitionIsFormattedOnFirstBoot) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  uint64_t off = 0;
  std::string disk = GptDiskWithState(s, "", &off);
  // The config's state.create = true makes the builder add mkfs by itself.
  auto vm = Boot(s, Config("image = \"PARTLABEL=rootA\"\n", kStateCreate), {disk});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitForRegex(R"(state: created ext4 on /dev/vd[a-z][0-9]+ \(PARTLABEL=state\))",
                               kBootTimeout))
      << vm->Output();
  ASSERT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker, kBootTimeout)) << vm->Output();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Output();
  EXPECT_EQ(*code, 0);
  EXPECT_NE(vm->Output().find("rootfs: recorded testos version 3 as booted"), std::string::npos)
      << vm->Output();
  std::string state = ExtractState(disk, off, s.dir + "/state-out.img");
  auto [fsck_rc, fsck] = RunCapture({"e2fsck", "-fn", state});
  EXPECT_EQ(fsck_rc, 0) << fsck;
  auto [label_rc, label] = RunCapture({"e2label", state});
  EXPECT_NE(label.find("initos-state"), std::string::npos) << label;
  auto [rc, out] = RunCapture({"debugfs", "-R", "cat /initos/booted-version", state});
  EXPECT_NE(out.find("testos 3 " + s.manifest.root_hash + "\n"), std::string::npos) << out;
}

TEST(RootfsBoot, StatePartitionWithGarbageIsNeverFormatted) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  std::string garbage;
  for (int i = 0; garbage.size() < 256 * 1024; ++i)
    garbage += "not-a-filesystem-" + std::to_string(i);
  uint64_t off = 0;
  std::string disk = GptDiskWithState(s, garbage, &off);
  std::string before = ExtractState(disk, off, s.dir + "/state-before.img");
  auto sum = [](const std::string& f) { return RunCapture({"sha256sum", f}).second.substr(0, 64); };
  std::string sum_before = sum(before);
  std::string output;
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n", kStateCreate), {disk},
                "(PARTLABEL=state) holds no filesystem initos recognises but is not empty "
                "(non-zero byte at 0x0); not formatting it",
                "a", &output);
  EXPECT_EQ(output.find("state: created"), std::string::npos) << output;
  std::string after = ExtractState(disk, off, s.dir + "/state-after.img");
  EXPECT_EQ(sum(after), sum_before);
}

TEST(RootfsBoot, MissingPartitionIsReported) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s, "other")},
                "rootfs: no block device with PARTLABEL=rootA after 10 s");
}

// ---- hardening (issue 8): what a disk or command-line attacker can try ----

std::string Sha256(const std::string& file) {
  return RunCapture({"sha256sum", file}).second.substr(0, 64);
}

// /var persists on the state partition, /etc and /usr do not; a setuid
// script planted in /var's upper layer on the state partition cannot run,
// neither through /var nor through the state mount itself.
TEST(RootfsBoot, OnlyPersistentDirsSurviveRebootAndTheyAreNoexec) {
  INITOS_REQUIRE_QEMU();
  ImageOptions o;
  o.extra_script =
      "B=/bin/busybox\n"
      "echo \"PERSIST var=$($B cat /var/p 2>/dev/null || echo none) etc=$($B cat /etc/e "
      "2>/dev/null || echo none) usr=$($B cat /usr/u 2>/dev/null || echo none)\"\n"
      "echo kept > /var/p; echo kept > /etc/e; $B mkdir -p /usr; echo kept > /usr/u\n"
      "if [ -f /var/evil ]; then echo EVIL-PRESENT; fi\n"
      "if /var/evil; then echo EVIL-EXEC-OK; else echo EVIL-EXEC-REFUSED; fi\n"
      "if /run/initos/state/initos/persist/var/upper/evil; then echo EVIL2-EXEC-OK; else echo "
      "EVIL2-EXEC-REFUSED; fi\n"
      "$B grep ' /var ' /proc/mounts\n";
  Bundle s = MakeBundle(o);
  std::string planted = s.dir + "/state-tree/initos/persist/var/upper";
  ASSERT_TRUE(MakeDirs(planted).ok());
  ASSERT_TRUE(
      WriteStringToFile(planted + "/evil", "#!/bin/busybox sh\necho ATTACKER-RAN\n", 04755).ok());
  ASSERT_EQ(::chmod((planted + "/evil").c_str(), 04755), 0);
  std::string state = Ext4Disk(s, "state.img", "state", s.dir + "/state-tree", 32);
  std::string disk = GptDisk(s);
  std::string config =
      Config("image = \"PARTLABEL=rootA\"\n", "[state]\ndevice = \"LABEL=state\"\n");
  {
    auto vm = Boot(s, config, {disk, state});
    ASSERT_TRUE(vm);
    ASSERT_TRUE(vm->WaitFor("PERSIST var=none etc=none usr=none", kBootTimeout)) << vm->Output();
    EXPECT_TRUE(vm->WaitFor("EVIL-PRESENT")) << vm->Output();
    EXPECT_TRUE(vm->WaitFor("EVIL-EXEC-REFUSED")) << vm->Output();
    EXPECT_TRUE(vm->WaitFor("EVIL2-EXEC-REFUSED")) << vm->Output();
    EXPECT_TRUE(vm->WaitForRegex(R"(overlay /var overlay .*nosuid,nodev,noexec)")) << vm->Output();
    auto code = vm->WaitExit();
    ASSERT_TRUE(code) << vm->Output();
    EXPECT_EQ(*code, 0);
    EXPECT_NE(
        vm->Output().find("rootfs: /var persists on the state partition (nosuid,nodev,noexec)"),
        std::string::npos)
        << vm->Output();
    EXPECT_EQ(vm->Output().find("ATTACKER-RAN"), std::string::npos) << vm->Output();
    EXPECT_EQ(vm->Output().find("EXEC-OK"), std::string::npos) << vm->Output();
  }
  {
    auto vm = Boot(s, config, {disk, state});
    ASSERT_TRUE(vm);
    EXPECT_TRUE(vm->WaitFor("PERSIST var=kept etc=none usr=none", kBootTimeout)) << vm->Output();
    EXPECT_TRUE(vm->WaitExit()) << vm->Output();
    EXPECT_EQ(vm->Output().find("ATTACKER-RAN"), std::string::npos) << vm->Output();
    EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
  }
  // Offline: /var's change is in its own layer, nothing of /etc anywhere.
  auto [rc, out] = RunCapture({"debugfs", "-R", "cat /initos/persist/var/upper/p", state});
  EXPECT_NE(out.find("kept"), std::string::npos) << out;
  auto [rc2, ls] = RunCapture({"debugfs", "-R", "ls -l /initos/persist", state});
  EXPECT_EQ(ls.find("etc"), std::string::npos) << ls;
}

// (i) A bundle signed by the trusted key but built for another product.
TEST(RootfsBoot, ImageOfAnotherNameIsRefused) {
  INITOS_REQUIRE_QEMU();
  ImageOptions o;
  o.name = "otheros";
  Bundle s = MakeBundle(o);
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n"), {GptDisk(s)},
                "rootfs: PARTLABEL=rootA holds image \"otheros\" but rootfs.name is \"testos\"; "
                "refusing it");
}

// (ii) A FIFO where the record should be: no hang, the baked floor, logged;
// the record is then written as a regular file.
TEST(RootfsBoot, FifoAsBootedRecordFallsBackToBakedFloor) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_TRUE(MakeDirs(s.dir + "/state-tree/initos").ok());
  ASSERT_EQ(::mkfifo((s.dir + "/state-tree/initos/booted-version").c_str(), 0644), 0);
  std::string state = Ext4Disk(s, "state.img", "state", s.dir + "/state-tree", 16);
  auto vm = Boot(s,
                 Config("image = \"PARTLABEL=rootA\"\nmin-version = 2\n",
                        "[state]\ndevice = \"LABEL=state\"\n"),
                 {GptDisk(s), state});
  ASSERT_TRUE(vm);
  EXPECT_TRUE(
      vm->WaitFor("rootfs: booted-version record /run/initos/state/initos/booted-version "
                  "is a FIFO; ignoring it, the floor is rootfs.min-version 2",
                  kBootTimeout))
      << vm->Output();
  EXPECT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker)) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  // Logged by PID 1 while the main program runs: before or after its output.
  EXPECT_NE(vm->Output().find("rootfs: recorded testos version 3 as booted"), std::string::npos)
      << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
  auto [rc, out] = RunCapture({"debugfs", "-R", "stat /initos/booted-version", state});
  EXPECT_NE(out.find("Type: regular"), std::string::npos) << out;
}

// (iii) A symlink where the record should be. It points at a record saying
// version 9 (on the same partition): followed, it would refuse version 3;
// not followed, the baked floor applies and the link is replaced.
TEST(RootfsBoot, SymlinkAsBootedRecordIsNotFollowed) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_TRUE(MakeDirs(s.dir + "/state-tree/initos").ok());
  ASSERT_TRUE(WriteStringToFile(s.dir + "/state-tree/initos/elsewhere",
                                "testos 9 " + s.manifest.root_hash + "\n")
                  .ok());
  ASSERT_EQ(::symlink("elsewhere", (s.dir + "/state-tree/initos/booted-version").c_str()), 0);
  std::string state = Ext4Disk(s, "state.img", "state", s.dir + "/state-tree", 16);
  auto vm = Boot(s,
                 Config("image = \"PARTLABEL=rootA\"\nmin-version = 2\n",
                        "[state]\ndevice = \"LABEL=state\"\n"),
                 {GptDisk(s), state});
  ASSERT_TRUE(vm);
  EXPECT_TRUE(
      vm->WaitFor("rootfs: booted-version record /run/initos/state/initos/booted-version "
                  "is a symlink (or lies under one); not followed; ignoring it",
                  kBootTimeout))
      << vm->Output();
  EXPECT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker)) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  EXPECT_EQ(vm->Output().find("refusing rollback"), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
  auto [rc, out] = RunCapture({"debugfs", "-R", "cat /initos/booted-version", state});
  EXPECT_NE(out.find("testos 3 " + s.manifest.root_hash + "\n"), std::string::npos) << out;
  auto [rc2, target] = RunCapture({"debugfs", "-R", "cat /initos/elsewhere", state});
  EXPECT_NE(target.find("testos 9 "), std::string::npos) << target;
}

// (iv) First 64 KiB zero, a btrfs superblock at 64 KiB: state.create must
// not format it. Checked with blkid -p on the host first.
TEST(RootfsBoot, BtrfsBehindZeroedHeadIsNeverFormatted) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  std::string fs_img = s.dir + "/btrfs.img";
  RunOk({"truncate", "-s", "128M", fs_img});
  RunOk({"mkfs.btrfs", "-q", fs_img});
  auto whole = ReadFileToString(fs_img);
  ASSERT_TRUE(whole.ok());
  std::string head = whole->substr(0, 16 * 1024 * 1024);
  std::fill(head.begin(), head.begin() + 64 * 1024, '\0');
  uint64_t off = 0;
  std::string disk = GptDiskWithState(s, head, &off);
  std::string before = ExtractState(disk, off, s.dir + "/state-before.img");
  auto [blkid_rc, blkid] = RunCapture({"blkid", "-p", before});
  ASSERT_NE(blkid.find("TYPE=\"btrfs\""), std::string::npos) << blkid;
  std::string sum_before = Sha256(before);
  std::string output;
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n", kStateCreate), {disk},
                "(PARTLABEL=state) holds btrfs at offset 65600; not formatting or mounting it", "a",
                &output);
  EXPECT_EQ(output.find("state: created"), std::string::npos) << output;
  EXPECT_EQ(Sha256(ExtractState(disk, off, s.dir + "/state-after.img")), sum_before);
}

// The state partition must carry the type GUID the signed config names.
TEST(RootfsBoot, StatePartitionOfAnotherTypeIsRefused) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  uint64_t off = 0;
  std::string disk = GptDiskWithState(s, "", &off);
  RunOk({"sgdisk", "-t", "2:0FC63DAF-8483-4772-8E79-3D69D8477DE4", disk});
  std::string sum_before = Sha256(ExtractState(disk, off, s.dir + "/state-before.img"));
  ExpectRefused(s, Config("image = \"PARTLABEL=rootA\"\n", kStateCreate), {disk},
                "(PARTLABEL=state) has partition type 0fc63daf-8483-4772-8e79-3d69d8477de4 but "
                "state.partition-type is 4d21b016-b534-45c2-a9fb-5c16e091fd2d; refusing it");
  EXPECT_EQ(Sha256(ExtractState(disk, off, s.dir + "/state-after.img")), sum_before);
}

// (v) The kernel command line tries to drop the state partition (and with it
// the rollback record) and to boot an older, validly signed image: both
// refused, the configured image boots, the old one's program never runs.
TEST(RootfsBoot, CmdlineCannotChooseImageOrState) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ImageOptions old_opts;
  old_opts.version = 2;
  std::string old_marker = NewMarker();
  std::string old_bundle = BuildImage(s, s.dir + "/old.bundle", old_marker, old_opts);
  // One disk: rootA (version 3), old (version 2).
  std::string disk = s.dir + "/two.img";
  auto kib = [](const std::string& f) {
    return (fs::file_size(f) + (1 << 20) - 1) / (1 << 20) * 1024;
  };
  uint64_t a_kib = kib(s.bundle), b_kib = kib(old_bundle);
  RunOk({"truncate", "-s", std::to_string((a_kib + b_kib + 2048) * 1024), disk});
  uint64_t b_sector = 2048 + a_kib * 2;
  RunOk({"sgdisk", "-n", "1:2048:+" + std::to_string(a_kib) + "K", "-c", "1:rootA", "-n",
         "2:" + std::to_string(b_sector) + ":+" + std::to_string(b_kib) + "K", "-c", "2:old",
         disk});
  RunOk({"dd", "if=" + s.bundle, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc", "status=none"});
  RunOk({"dd", "if=" + old_bundle, "of=" + disk, "bs=512", "seek=" + std::to_string(b_sector),
         "conv=notrunc", "status=none"});
  ASSERT_TRUE(MakeDirs(s.dir + "/state-tree").ok());
  std::string state = Ext4Disk(s, "state.img", "state", s.dir + "/state-tree", 16);
  auto vm = Boot(s, Config("image = \"PARTLABEL=rootA\"\n", "[state]\ndevice = \"LABEL=state\"\n"),
                 {disk, state}, "a",
                 "initos.state.device= initos.rootfs.image=PARTLABEL=old "
                 "initos.rootfs.insecure-dev-mode=1 initos.rootfs.on-corruption=restart "
                 "initos.rootfs.keys=/etc/initos/keys/evil.pub");
  ASSERT_TRUE(vm);
  EXPECT_TRUE(vm->WaitForRegex(R"(state\.device.*refused)", kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker + " version=3", kBootTimeout))
      << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  // Logged by PID 1 while the main program runs: before or after its output.
  EXPECT_NE(vm->Output().find("rootfs: recorded testos version 3 as booted"), std::string::npos)
      << vm->Output();
  EXPECT_TRUE(std::regex_search(vm->Output(), std::regex(R"(rootfs\.image.*refused)")))
      << vm->Output();
  for (const char* key : {"insecure-dev-mode", "on-corruption", "keys"})
    EXPECT_NE(vm->Output().find(std::string("initos.rootfs.") + key + ": refused"),
              std::string::npos)
        << key << "\n"
        << vm->Output();
  EXPECT_NE(vm->Output().find("secure boot: unknown (no EFI firmware), verified mode"),
            std::string::npos)
      << vm->Output();
  EXPECT_EQ(vm->Output().find(old_marker), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("version=2"), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
}

// A symlink at the bundle path on the (untrusted) image filesystem is not
// followed, even to a valid bundle.
TEST(RootfsBoot, BundleFileSymlinkIsNotFollowed) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  ASSERT_TRUE(MakeDirs(s.dir + "/imgs/os").ok());
  fs::copy_file(s.bundle, s.dir + "/imgs/real.bundle");
  ASSERT_EQ(::symlink("../real.bundle", (s.dir + "/imgs/os/testos.bundle").c_str()), 0);
  std::string disk = Ext4Disk(s, "imgs.img", "imgs", s.dir + "/imgs", 32);
  ExpectRefused(s, Config("image = \"LABEL=imgs:/os/testos.bundle\"\n"), {disk},
                "rootfs: LABEL=imgs:/os/testos.bundle: /os/testos.bundle in the ext4 filesystem on "
                "/dev/vda is a symlink (or lies under one); not followed");
}

// state.device = PARTUUID=: found through the parent disk's GPT, formatted
// on first boot (create needs no partition-type then), the record written.
TEST(RootfsBoot, StateByPartUuidIsFormattedOnFirstBoot) {
  INITOS_REQUIRE_QEMU();
  Bundle s = MakeBundle();
  uint64_t off = 0;
  std::string disk = GptDiskWithState(s, "", &off);
  const std::string guid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
  RunOk({"sgdisk", "-u", "2:" + guid, disk});
  auto vm = Boot(s,
                 Config("image = \"PARTLABEL=rootA\"\n",
                        "[state]\ndevice = \"PARTUUID=" + guid + "\"\ncreate = true\n"),
                 {disk});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitForRegex(
      R"(state: created ext4 on /dev/vd[a-z]2 \(PARTUUID=)" + guid + R"(\))", kBootTimeout))
      << vm->Output();
  ASSERT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + s.marker, kBootTimeout)) << vm->Output();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Output();
  EXPECT_EQ(*code, 0);
  std::string state = ExtractState(disk, off, s.dir + "/state-out.img");
  auto [rc, out] = RunCapture({"debugfs", "-R", "cat /initos/booted-version", state});
  EXPECT_NE(out.find("testos 3 " + s.manifest.root_hash + "\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace initos::qemu
