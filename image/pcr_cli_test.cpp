// `initos image pcr` against an independent implementation: systemd 252's
// own systemd-measure computes PCR 11 for the same sections, and a UKI built
// with objcopy onto Debian's systemd-stub must replay to the same value.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "format/measurement.h"
#include "image/bundle.h"

namespace initos {
namespace {

using testutil::RunProgram;
using testutil::TempDir;

constexpr char kStub[] = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
constexpr char kMeasure[] = "/usr/lib/systemd/systemd-measure";

std::string Random(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((seed = seed * 1103515245 + 12345) >> 16);
  return s;
}

// Every section the stub measures, added to the file in an order different
// from the stub's so the test proves the replay uses the stub's order.
struct Uki {
  TempDir dir;
  std::string path = dir / "uki.efi";
  std::vector<std::pair<std::string, std::string>> sections = {
      {"initrd", Random(70001, 1)}, {"cmdline", "console=ttyS0 quiet"},
      {"linux", Random(123457, 2)}, {"osrel", "ID=initos\nVERSION_ID=1\n"},
      {"pcrpkey", Random(451, 3)},  {"dtb", Random(999, 4)},
      {"splash", Random(2050, 5)},
  };
  void Build() {
    std::vector<std::string> argv = {"objcopy"};
    unsigned vma = 0x20000;
    for (const auto& [name, data] : sections) {
      ASSERT_TRUE(WriteStringToFile(dir / name, data).ok());
      argv.insert(argv.end(), {"--add-section", "." + name + "=" + (dir / name),
                               "--change-section-vma", "." + name + "=" + std::to_string(vma)});
      vma += 0x100000;
    }
    argv.insert(argv.end(), {kStub, path});
    auto r = RunProgram(argv);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  std::string SystemdMeasure() {
    std::vector<std::string> argv = {kMeasure, "calculate", "--bank=sha256", "--phase=:"};
    for (const auto& [name, data] : sections) argv.push_back("--" + name + "=" + (dir / name));
    auto r = RunProgram(argv);
    EXPECT_EQ(r.status, 0) << r.err;
    // "11:sha256=HEX"
    size_t at = r.out.find("11:sha256=");
    if (at == std::string::npos) return "no value in: " + r.out;
    return r.out.substr(at + 10, 64);
  }
};

TEST(ImagePcr, UkiPartMatchesSystemdMeasure) {
  Uki uki;
  uki.Build();
  std::string want = uki.SystemdMeasure();
  ASSERT_EQ(want.size(), 64u) << want;
  auto r = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", uki.path, "--value-only"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, want + "\n");
  // The full listing names every extend, in the stub's order.
  r = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", uki.path});
  ASSERT_EQ(r.status, 0) << r.err;
  size_t linux_at = r.out.find(".linux name"), initrd_at = r.out.find(".initrd name"),
         pcrpkey_at = r.out.find(".pcrpkey data (451 bytes)");
  EXPECT_LT(linux_at, initrd_at) << r.out;
  EXPECT_LT(initrd_at, pcrpkey_at) << r.out;
  EXPECT_NE(pcrpkey_at, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PCR 11 (sha256): " + want + "\n"), std::string::npos) << r.out;
}

std::string AnyKernel() {
  for (const auto& e : std::filesystem::directory_iterator("/boot"))
    if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) return e.path();
  return "";
}

// The UKI InitOS ships is built by `initos image uki`: its replay equals
// systemd-measure over the same four inputs.
TEST(ImagePcr, InitosUkiMatchesSystemdMeasure) {
  TempDir dir;
  std::string kernel = AnyKernel();
  ASSERT_FALSE(kernel.empty()) << "no /boot/vmlinuz-* on this host";
  ASSERT_TRUE(WriteStringToFile(dir / "initrd", Random(300001, 7)).ok());
  ASSERT_TRUE(WriteStringToFile(dir / "os-release", "ID=initos\nVERSION_ID=9\n").ok());
  ASSERT_TRUE(WriteStringToFile(dir / "cmdline", "console=ttyS0 panic=-1 initos.test=1").ok());
  auto r = RunProgram({INITOS_BINARY, "image", "uki", "-o", dir / "uki.efi", "--kernel", kernel,
                       "--initramfs", dir / "initrd", "--os-release", dir / "os-release",
                       "--cmdline", "console=ttyS0 panic=-1 initos.test=1"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunProgram({kMeasure, "calculate", "--bank=sha256", "--phase=:", "--linux=" + kernel,
                  "--osrel=" + (dir / "os-release"), "--cmdline=" + (dir / "cmdline"),
                  "--initrd=" + (dir / "initrd")});
  ASSERT_EQ(r.status, 0) << r.err;
  size_t at = r.out.find("11:sha256=");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string want = r.out.substr(at + 10, 64);
  r = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", dir / "uki.efi", "--value-only"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, want + "\n");
}

TEST(ImagePcr, OneChangedByteChangesTheValue) {
  Uki a;
  a.sections.resize(4);  // initrd cmdline linux osrel: a typical InitOS UKI
  a.Build();
  Uki b;
  b.sections.resize(4);
  b.sections[1].second = "console=ttyS0 quieT";
  b.Build();
  auto ra = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", a.path, "--value-only"});
  auto rb = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", b.path, "--value-only"});
  ASSERT_EQ(ra.status, 0) << ra.err;
  ASSERT_EQ(rb.status, 0) << rb.err;
  EXPECT_NE(ra.out, rb.out);
  EXPECT_EQ(ra.out, a.SystemdMeasure() + "\n");
  EXPECT_EQ(rb.out, b.SystemdMeasure() + "\n");
}

// A bundle's event, alone (direct kernel boot) and after a UKI, and with
// --key the bundle is verified first.
TEST(ImagePcr, BundleEventAfterTheUki) {
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir / "root/etc").ok());
  ASSERT_TRUE(WriteStringToFile(dir / "root/etc/hostname", "initos\n").ok());
  auto r = RunProgram({INITOS_BINARY, "image", "keygen", "-o", dir / "keys"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string bundle = dir / "b.bundle";
  r = RunProgram({INITOS_BINARY, "image", "build", "--rootfs", dir / "root", "--key",
                  dir / "keys/signing.key", "--name", "demo", "--version", "7", "-o", bundle});
  ASSERT_EQ(r.status, 0) << r.err;
  auto fd = OpenFile(bundle, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  auto opened = ReadBundle(fd->get());
  ASSERT_TRUE(opened.ok()) << opened.error().str();
  Sha256Digest event = BundleEventDigest("demo", 7, opened->manifest.root_hash);

  r = RunProgram({INITOS_BINARY, "image", "pcr", "--bundle", bundle, "--key",
                  dir / "keys/signing.pub", "--value-only"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, HexOf(ExtendSha256(Sha256Digest{}, event)) + "\n");

  Uki uki;
  uki.sections.resize(4);
  uki.Build();
  r = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", uki.path, "--bundle", bundle});
  ASSERT_EQ(r.status, 0) << r.err;
  auto stub = ReplayStubMeasurements(*ReadFileToString(uki.path));
  ASSERT_TRUE(stub.ok());
  EXPECT_EQ(HexOf(stub->value), uki.SystemdMeasure());
  EXPECT_NE(r.out.find("PCR 11 (sha256): " + HexOf(ExtendSha256(stub->value, event)) + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("name=demo\\n\n    version=7\\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(signature not checked)"), std::string::npos) << r.out;

  // A key that did not sign it: refused, no value printed.
  r = RunProgram({INITOS_BINARY, "image", "keygen", "-o", dir / "other"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunProgram({INITOS_BINARY, "image", "pcr", "--bundle", bundle, "--key",
                  dir / "other/signing.pub", "--value-only"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
}

TEST(ImagePcr, UsageErrors) {
  auto r = RunProgram({INITOS_BINARY, "image", "pcr"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("give --uki, --bundle or both"), std::string::npos) << r.err;
  r = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", kMeasure});  // an ELF, not a PE
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a PE file"), std::string::npos) << r.err;
  r = RunProgram({INITOS_BINARY, "image", "pcr", "--uki", kStub});  // a stub without a kernel
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a unified kernel image"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace initos
