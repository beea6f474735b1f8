// Secure Boot under OVMF (Debian's secboot build, TCG) with owner-enrolled
// variables from `initos image sb-keys`: a UKI signed with the owner's db
// key boots to the verified rootfs and the main program; the same UKI
// unsigned, signed with another key, or with one byte of its .initrd
// section changed after signing is refused by the firmware, and the kernel
// never starts. Key rotation: a UKI with an untrusted and the owner's
// signature boots; a db key appended with the KEK's signature lets a UKI
// signed only with it boot. One OVMF boot per test (two for the append).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "base/file.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

constexpr const char kCode[] = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
constexpr const char kFromImage[] = "FROM-IMAGE";
// What OVMF's boot manager prints when LoadImage refuses the ESP's image
// (the signature check failed): 'BdsDxe: failed to load Boot0002 "UEFI
// Non-Block Boot Device" from PciRoot(0x0)/Pci(0x2,0x0): Access Denied'.
constexpr const char kRefused[] = R"(BdsDxe: failed to load Boot[0-9A-F]+ .*: Access Denied)";
// ... and when it has tried everything (its own unsigned shell included:
// "Security Violation") and waits for a key.
constexpr const char kNothingLeft[] = "BdsDxe: No bootable option or device was found.";
// The kernel's first line: it must never appear for a refused UKI.
constexpr const char kLinux[] = "Linux version";

void RunOk(const std::vector<std::string>& argv) {
  auto [code, out] = RunCapture(argv);
  ASSERT_EQ(code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ":\n" << out;
}

// The owner's keys and enrolled variables, and a second owner's keys (the
// "other key"), made once and shared by every test and test process (ctest
// runs each test alone): BUILD/qemu-work/secure-boot-owner, rebuilt when
// the initos binary is newer, under a lock.
std::string OwnerDir() {
  static std::string cached;
  if (!cached.empty()) return cached;
  fs::path dir = fs::path(TestWorkDir()).parent_path() / "secure-boot-owner";
  auto lock = OpenFile(dir.string() + ".lock", O_RDWR | O_CREAT, 0644);
  EXPECT_TRUE(lock.ok());
  if (!lock.ok()) return "";
  EXPECT_EQ(::flock(lock->get(), LOCK_EX), 0);
  std::error_code ec;
  fs::path vars = dir / "OVMF_VARS.fd";
  bool fresh = fs::exists(vars, ec) && fs::exists(dir / "other/db.crt", ec) &&
               fs::last_write_time(vars, ec) > fs::last_write_time(INITOS_BINARY, ec);
  if (!fresh) {
    fs::remove_all(dir, ec);
    auto [code, out] = RunCapture({INITOS_BINARY, "image", "sb-keys", "-o", dir.string(),
                                   "--owner-name", "InitOS test owner"});
    EXPECT_EQ(code, 0) << out;
    if (code != 0) return "";
    RunOk({INITOS_BINARY, "image", "sb-keys", "-o", (dir / "other").string(), "--owner-name",
           "Someone else", "--no-vars"});
  }
  cached = dir.string();
  return cached;
}

// An image tree whose /main.sh prints "FROM-IMAGE <marker>", built and
// signed into a bundle on a GPT disk (partition "rootA"), as
// rootfs_boot_test does.
std::string RootDisk(const std::string& dir, const std::string& marker) {
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  std::string tree = dir + "/tree";
  EXPECT_TRUE(MakeDirs(tree + "/bin").ok());
  fs::copy_file("/bin/busybox", tree + "/bin/busybox", fs::copy_options::overwrite_existing);
  EXPECT_TRUE(WriteStringToFile(tree + "/main.sh",
                                "#!/bin/busybox sh\necho \"" + std::string(kFromImage) + " " +
                                    marker + "\"\n/bin/busybox sync\n",
                                0755)
                  .ok());
  std::string bundle = dir + "/testos.bundle";
  RunOk({INITOS_BINARY, "image", "build", "--rootfs", tree, "--key", dir + "/a/signing.key",
         "--name", "testos", "--version", "1", "-o", bundle});
  std::string disk = dir + "/root.img";
  uint64_t part_kib = (fs::file_size(bundle) + (1 << 20) - 1) / (1 << 20) * 1024;
  {
    auto fd = OpenFile(disk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_TRUE(fd.ok());
    EXPECT_EQ(::ftruncate(fd->get(), static_cast<off_t>((part_kib + 2048) * 1024)), 0);
  }
  RunOk({"sgdisk", "-n", "1:2048:+" + std::to_string(part_kib) + "K", "-c", "1:rootA", disk});
  RunOk({"dd", "if=" + bundle, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc", "status=none"});
  return disk;
}

// The initramfs: initos as /init, the bundle's public key (DIR/a, made by
// RootDisk, or here for boots that never reach the rootfs), the modules the
// rootfs stage needs; the main program comes from the verified image.
std::string Initramfs(const std::string& dir) {
  if (!fs::exists(dir + "/a/signing.pub"))
    RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  InitramfsSpec spec;
  spec.config =
      "[init]\nmain = [\"/bin/busybox\", \"sh\", \"/main.sh\"]\non-exit = \"poweroff\"\n"
      "failure-delay-s = 0\nmodules = [\"virtio_pci\", \"virtio_blk\", \"dm-mod\", "
      "\"dm-verity\", \"erofs\", \"overlay\", \"loop\"]\n"
      "[rootfs]\nname = \"testos\"\nkeys = [\"/etc/initos/keys/a.pub\"]\n"
      "image = \"PARTLABEL=rootA\"\n";
  // efivarfs: PID 1 loads it on EFI to read Secure Boot (not in init.modules:
  // it refuses to load without EFI).
  spec.modules = {"virtio_pci", "virtio_blk", "dm-mod", "dm-verity",
                  "erofs",      "overlay",    "loop",   "efivarfs"};
  spec.files.push_back({dir + "/a/signing.pub", "/etc/initos/keys/a.pub"});
  auto img = BuildInitramfs(spec, dir);
  EXPECT_TRUE(img.ok()) << img.error().str();
  return img.ok() ? *img : "";
}

// `initos image uki`, signed with key/cert when given.
std::string Uki(const std::string& dir, const std::string& name, const std::string& initramfs,
                const std::string& key_dir) {
  std::string out = dir + "/" + name + ".efi";
  std::vector<std::string> argv = {INITOS_BINARY, "image",      "uki",         "-o",     out,
                                   "--kernel",    FindKernel(), "--initramfs", initramfs};
  if (!key_dir.empty())
    argv.insert(argv.end(), {"--key", key_dir + "/db.key", "--cert", key_dir + "/db.crt"});
  RunOk(argv);
  return out;
}

// `initos image esp`: a FAT image (no partition table; OVMF boots it as a
// disk) with the UKI at EFI/BOOT/BOOTX64.EFI.
std::string Esp(const std::string& uki) {
  std::string esp = uki + ".esp";
  RunOk({INITOS_BINARY, "image", "esp", "-o", esp, "--uki", uki});
  return esp;
}

// File offset and size of a PE section, from objdump -h.
std::pair<uint64_t, uint64_t> Section(const std::string& file, const std::string& name) {
  auto [code, out] = RunCapture({"objdump", "-h", file});
  EXPECT_EQ(code, 0) << out;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string idx, sec, size, vma, lma, off;
    if (f >> idx >> sec >> size >> vma >> lma >> off && sec == name)
      return {std::stoull(off, nullptr, 16), std::stoull(size, nullptr, 16)};
  }
  ADD_FAILURE() << "no section " << name << " in " << file << ":\n" << out;
  return {0, 0};
}

// The owner's enrolled variables, copied for one VM (the firmware writes
// them), unless the test brings its own (`keep`).
std::string Vars(const std::string& dir, bool keep = false) {
  std::string vars = dir + "/OVMF_VARS.fd";
  if (!keep) {
    std::string owner = OwnerDir();
    if (owner.empty()) return "";
    fs::copy_file(owner + "/OVMF_VARS.fd", vars, fs::copy_options::overwrite_existing);
  }
  return vars;
}

std::unique_ptr<Qemu> BootEsp(const std::string& dir, const std::string& esp,
                              std::vector<std::string> more_disks = {}, bool keep_vars = false) {
  std::string vars = Vars(dir, keep_vars);
  if (vars.empty()) return nullptr;
  QemuOptions o;
  o.firmware_boot = true;
  o.firmware_code = kCode;
  o.firmware_vars = vars;
  o.secure_boot = true;
  o.disks = {esp};
  o.disks.insert(o.disks.end(), more_disks.begin(), more_disks.end());
  auto q = Qemu::Start(o);
  EXPECT_TRUE(q.ok()) << q.error().str();
  return q.ok() ? std::move(*q) : nullptr;
}

// Boots an ESP holding `uki` and expects the firmware to refuse it: its
// refusal on the console, and no kernel, before or after it.
void ExpectRefused(const std::string& dir, const std::string& uki) {
  auto vm = BootEsp(dir, Esp(uki));
  ASSERT_TRUE(vm);
  EXPECT_TRUE(vm->WaitForRegex(kRefused, kBootTimeout)) << vm->Tail();
  EXPECT_TRUE(vm->WaitFor(kNothingLeft)) << vm->Tail();
  EXPECT_EQ(vm->Output().find(kLinux), std::string::npos) << vm->Tail();
  EXPECT_EQ(vm->Output().find(kFromImage), std::string::npos) << vm->Tail();
}

void RequireFirmware() {
  for (const char* tool :
       {"sgdisk", "mkfs.vfat", "mcopy", "objdump", "sbsign", "sign-efi-sig-list"})
    ASSERT_EQ(RunCapture({"sh", "-c", std::string("command -v ") + tool}).first, 0)
        << tool << " missing (scripts/setup.sh)";
  ASSERT_EQ(::access(kCode, R_OK), 0) << kCode << " missing: install ovmf (scripts/setup.sh)";
}

TEST(SecureBoot, SignedUkiBootsToVerifiedRootfsAndMainProgram) {
  INITOS_REQUIRE_QEMU();
  ASSERT_NO_FATAL_FAILURE(RequireFirmware());
  std::string dir = TestWorkDir();
  std::string marker = "sb" + std::to_string(::getpid());
  std::string disk = RootDisk(dir, marker);
  std::string uki = Uki(dir, "signed", Initramfs(dir), OwnerDir());
  auto vm = BootEsp(dir, Esp(uki), {disk});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(kLinux, kBootTimeout)) << vm->Tail();
  EXPECT_TRUE(vm->WaitFor("secureboot: Secure boot enabled")) << vm->Tail();
  // PID 1 reads the same from efivarfs, and what the stub left behind.
  EXPECT_TRUE(
      vm->WaitForRegex("secure boot: on \\(user mode\\), stub: systemd-stub [^,]+.*, "
                       "verified mode"))
      << vm->Tail();
  EXPECT_TRUE(vm->WaitFor("stage rootfs done", kBootTimeout)) << vm->Tail();
  EXPECT_TRUE(vm->WaitFor(std::string(kFromImage) + " " + marker)) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Tail();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(vm->Output().find("Access Denied"), std::string::npos) << vm->Tail();
}

TEST(SecureBoot, UnsignedUkiIsRefusedByTheFirmware) {
  INITOS_REQUIRE_QEMU();
  ASSERT_NO_FATAL_FAILURE(RequireFirmware());
  std::string dir = TestWorkDir();
  ExpectRefused(dir, Uki(dir, "unsigned", Initramfs(dir), ""));
}

TEST(SecureBoot, UkiSignedWithAnotherKeyIsRefusedByTheFirmware) {
  INITOS_REQUIRE_QEMU();
  ASSERT_NO_FATAL_FAILURE(RequireFirmware());
  std::string dir = TestWorkDir();
  ExpectRefused(dir, Uki(dir, "other", Initramfs(dir), OwnerDir() + "/other"));
}

TEST(SecureBoot, UkiWithOneInitrdByteChangedAfterSigningIsRefusedByTheFirmware) {
  INITOS_REQUIRE_QEMU();
  ASSERT_NO_FATAL_FAILURE(RequireFirmware());
  std::string dir = TestWorkDir();
  std::string uki = Uki(dir, "tampered", Initramfs(dir), OwnerDir());
  RunOk({"sbverify", "--cert", OwnerDir() + "/db.crt", uki});
  auto [off, size] = Section(uki, ".initrd");
  ASSERT_GT(size, 0u);
  {
    auto fd = OpenFile(uki, O_RDWR);
    ASSERT_TRUE(fd.ok());
    char c = 0;
    off_t at = static_cast<off_t>(off + size / 2);
    ASSERT_EQ(::pread(fd->get(), &c, 1, at), 1);
    c = static_cast<char>(c ^ 0x01);
    ASSERT_EQ(::pwrite(fd->get(), &c, 1, at), 1);
  }
  // The host's verifier agrees before the firmware is asked.
  EXPECT_NE(RunCapture({"sbverify", "--cert", OwnerDir() + "/db.crt", uki}).first, 0);
  ExpectRefused(dir, uki);
}

// Key rotation's transition (docs/secure-boot.md): a UKI carrying two
// signatures, the first by a key this firmware does not trust and the
// second by the owner's db key (sbsign adds a signature to a signed
// image), boots; the firmware accepts any signature whose certificate is
// in db. The boot stops once the kernel runs.
TEST(SecureBoot, UkiSignedWithAnUntrustedAndTheOwnersKeyBoots) {
  INITOS_REQUIRE_QEMU();
  ASSERT_NO_FATAL_FAILURE(RequireFirmware());
  std::string dir = TestWorkDir();
  std::string unsigned_uki = Uki(dir, "unsigned", Initramfs(dir), "");
  std::string other = OwnerDir() + "/other", owner = OwnerDir();
  std::string once = dir + "/once.efi", twice = dir + "/twice.efi";
  RunOk({"sbsign", "--key", other + "/db.key", "--cert", other + "/db.crt", "--output", once,
         unsigned_uki});
  RunOk(
      {"sbsign", "--key", owner + "/db.key", "--cert", owner + "/db.crt", "--output", twice, once});
  auto [code, list] = RunCapture({"sbverify", "--list", twice});
  ASSERT_NE(list.find("signature 2"), std::string::npos) << list;
  auto vm = BootEsp(dir, Esp(twice));
  ASSERT_TRUE(vm);
  EXPECT_TRUE(vm->WaitFor(kLinux, kBootTimeout)) << vm->Tail();
  EXPECT_TRUE(vm->WaitFor("secureboot: Secure boot enabled")) << vm->Tail();
  EXPECT_EQ(vm->Output().find("Access Denied"), std::string::npos) << vm->Tail();
}

// A host program and the shared libraries ldd names, as (contents, path)
// pairs for BuildBusyboxInitramfs.
void AddProgram(const std::string& path, std::vector<std::pair<std::string, std::string>>* texts) {
  std::vector<std::string> files = {path};
  auto [code, out] = RunCapture({"ldd", path});
  ASSERT_EQ(code, 0) << out;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string first, arrow, lib;
    f >> first >> arrow >> lib;
    if (arrow == "=>" && lib.starts_with("/")) files.push_back(lib);
    if (first.starts_with("/")) files.push_back(first);  // the dynamic loader
  }
  for (const auto& file : files) {
    auto bytes = ReadFileToString(file);
    ASSERT_TRUE(bytes.ok()) << file;
    texts->push_back({*bytes, file});
  }
}

// The enrolled variables booted again read SetupMode 0, SecureBoot 1 and
// a PK. Key rotation, steps 1 and 2 (docs/secure-boot.md): a second db key made
// with the documented commands, its append update signed by the KEK written
// from a running system in user mode (efivarfs, chattr -i, attributes
// 0x67); the same append signed by the db key instead of the KEK is refused
// first. Then a UKI signed only with the new key boots from those
// variables. Two boots: the update guest (direct kernel boot), the UKI.
TEST(SecureBoot, DbKeyAppendedWithTheKekLetsANewKeyBoot) {
  INITOS_REQUIRE_QEMU();
  ASSERT_NO_FATAL_FAILURE(RequireFirmware());
  std::string dir = TestWorkDir();
  std::string owner = OwnerDir();
  ASSERT_FALSE(owner.empty());
  auto guid = ReadFileToString(owner + "/GUID.txt");
  ASSERT_TRUE(guid.ok());
  std::string g = guid->substr(0, guid->find('\n'));
  RunOk({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", dir + "/db2.key"});
  RunOk({"openssl", "req", "-new", "-x509", "-key", dir + "/db2.key", "-sha256", "-days", "3650",
         "-subj", "/CN=InitOS test owner db 2/", "-out", dir + "/db2.crt"});
  RunOk({"cert-to-efi-sig-list", "-g", g, dir + "/db2.crt", dir + "/db2.esl"});
  RunOk({"sign-efi-sig-list", "-a", "-g", g, "-k", owner + "/KEK.key", "-c", owner + "/KEK.crt",
         "db", dir + "/db2.esl", dir + "/db2-append.auth"});
  RunOk({"sign-efi-sig-list", "-a", "-g", g, "-k", owner + "/db.key", "-c", owner + "/db.crt", "db",
         dir + "/db2.esl", dir + "/db2-bad.auth"});
  auto good = ReadFileToString(dir + "/db2-append.auth");
  auto bad = ReadFileToString(dir + "/db2-bad.auth");
  ASSERT_TRUE(good.ok() && bad.ok());
  const std::string attrs("\x67\x00\x00\x00", 4);  // 0x27 | EFI_VARIABLE_APPEND_WRITE

  std::vector<std::pair<std::string, std::string>> texts = {{attrs + *good, "/good"},
                                                            {attrs + *bad, "/bad"}};
  std::string ko =
      "/lib/modules/" + KernelVersion(FindKernel()) + "/kernel/fs/efivarfs/efivarfs.ko";
  auto module = ReadFileToString(ko);
  ASSERT_TRUE(module.ok()) << ko;
  texts.push_back({*module, "/efivarfs.ko"});
  AddProgram("/usr/bin/chattr", &texts);
  const std::string script =
      "#!/bin/busybox sh\nB=/bin/busybox\n$B mkdir -p /proc /sys\n"
      "$B mount -t proc proc /proc\n$B mount -t sysfs sysfs /sys\n$B insmod /efivarfs.ko\n"
      "$B mount -t efivarfs efivarfs /sys/firmware/efi/efivars\n"
      "E=/sys/firmware/efi/efivars\nG=8be4df61-93ca-11d2-aa0d-00e098032b8c\n"
      "echo \"SETUP-MODE $($B od -An -tu1 $E/SetupMode-$G | $B awk '{print $NF}')\"\n"
      "echo \"SECURE-BOOT $($B od -An -tu1 $E/SecureBoot-$G | $B awk '{print $NF}')\"\n"
      "$B test -s $E/PK-$G && echo PK-PRESENT\n"
      "D=$E/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f\n"
      "echo \"DB-SIZE $($B stat -c %s $D)\"\n"
      "/usr/bin/chattr -i $D || echo CHATTR-FAILED\n"
      "$B dd if=/bad of=$D bs=1M oflag=append conv=notrunc 2>/dev/null && echo BAD-ACCEPTED || "
      "echo BAD-REFUSED\n"
      "$B dd if=/good of=$D bs=1M oflag=append conv=notrunc 2>/dev/null && echo GOOD-ACCEPTED || "
      "echo GOOD-REFUSED\n"
      "echo \"DB-SIZE $($B stat -c %s $D)\"\n$B poweroff -f\n";
  auto initramfs = BuildBusyboxInitramfs(script, texts, dir);
  ASSERT_TRUE(initramfs.ok()) << initramfs.error().str();
  {
    QemuOptions o = BootOptions(*initramfs);
    // Its own console log: the UKI boot below writes the test's.
    std::string log = TestLogPath();
    o.log_path = log.substr(0, log.size() - 4) + ".update-guest.log";
    o.firmware_code = kCode;
    o.firmware_vars = Vars(dir);
    o.secure_boot = true;
    auto q = Qemu::Start(o);
    ASSERT_TRUE(q.ok()) << q.error().str();
    auto& vm = *q;
    // The file sb-keys wrote, booted again: user mode, Secure Boot on, PK set.
    EXPECT_TRUE(vm->WaitFor("SETUP-MODE 0\n", kBootTimeout)) << vm->Tail();
    EXPECT_TRUE(vm->WaitFor("SECURE-BOOT 1\n")) << vm->Tail();
    EXPECT_TRUE(vm->WaitFor("PK-PRESENT")) << vm->Tail();
    auto before = vm->WaitForRegex("DB-SIZE [0-9]+");
    ASSERT_TRUE(before) << vm->Tail();
    EXPECT_TRUE(vm->WaitFor("BAD-REFUSED")) << vm->Tail();
    EXPECT_TRUE(vm->WaitFor("GOOD-ACCEPTED")) << vm->Tail();
    auto after = vm->WaitForRegex("DB-SIZE [0-9]+");
    ASSERT_TRUE(after) << vm->Tail();
    // db now holds two signature lists: the owner's db and db2.
    EXPECT_GT(std::stoul(after->substr(8)), std::stoul(before->substr(8)) + 700) << vm->Tail();
    EXPECT_TRUE(vm->WaitExit()) << vm->Tail();
  }
  std::string unsigned_uki = Uki(dir, "db2-unsigned", Initramfs(dir), "");
  std::string uki = dir + "/db2.efi";
  RunOk({"sbsign", "--key", dir + "/db2.key", "--cert", dir + "/db2.crt", "--output", uki,
         unsigned_uki});
  auto vm = BootEsp(dir, Esp(uki), {}, /*keep_vars=*/true);
  ASSERT_TRUE(vm);
  EXPECT_TRUE(vm->WaitFor(kLinux, kBootTimeout)) << vm->Tail();
  EXPECT_TRUE(vm->WaitFor("secureboot: Secure boot enabled")) << vm->Tail();
  EXPECT_EQ(vm->Output().find("Access Denied"), std::string::npos) << vm->Tail();
}

}  // namespace
}  // namespace initos::qemu
