// `initos image uki` end to end on this host's tools: objcopy (binutils),
// the systemd-stub (systemd-boot-efi), sbsign/sbverify (sbsigntool) and
// openssl for a throwaway certificate; all installed by scripts/setup.sh.
#include "image/uki.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/authenticode_time.h"
#include "image/uki_layout.h"

namespace initos {
namespace {

using testutil::RunProgram;

class UkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Any PE32+ passes for a kernel: the stub itself, and a marker.
    ASSERT_TRUE(WriteStringToFile(dir_ / "vmlinuz", *ReadFileToString(kDefaultUkiStub) +
                                                        std::string(70000, 'K') + "kernel-end")
                    .ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "initrd", std::string(30000, 'I') + "initrd-end").ok());
    o_.kernel = dir_ / "vmlinuz";
    o_.initramfs = dir_ / "initrd";
    o_.cmdline = "console=ttyS0 initos.test=1";
    o_.temp_dir = dir_.path();
  }
  // A self-signed RSA certificate as a Secure Boot db entry would be.
  void MakeCert(const std::string& name) {
    auto r = RunProgram({"openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-subj", "/CN=initos test " + name, "-days", "30", "-keyout",
                         dir_ / (name + ".key"), "-out", dir_ / (name + ".crt")});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  std::string Build(const std::string& name) {
    UkiOptions o = o_;
    o.output = dir_ / name;
    auto r = BuildUki(o);
    EXPECT_TRUE(r.ok()) << r.error().str();
    auto bytes = ReadFileToString(o.output);
    return bytes.ok() ? *bytes : "";
  }
  std::string Section(const std::string& efi, const std::string& section) {
    std::string out = dir_ / "section.bin";
    auto r = RunProgram({"objcopy", "-O", "binary", "--only-section=" + section, efi, out});
    EXPECT_EQ(r.status, 0) << r.err;
    auto s = ReadFileToString(out);
    return s.ok() ? *s : "";
  }

  testutil::TempDir dir_;
  UkiOptions o_;
};

TEST_F(UkiTest, UnsignedHasTheSectionsInOrderAndIsReproducible) {
  o_.timestamp = 1700000000;
  std::string a = Build("a.efi");
  ASSERT_FALSE(a.empty());
  auto h = ParsePeHeaders(a);
  ASSERT_TRUE(h.ok()) << h.error().str();
  ASSERT_GE(h->section_names.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(h->section_names.end() - 4, h->section_names.end()),
            (std::vector<std::string>{".osrel", ".cmdline", ".linux", ".initrd"}));
  EXPECT_EQ(h->timestamp, 1700000000u);  // not objcopy's wall clock
  EXPECT_EQ(Section(dir_ / "a.efi", ".cmdline"), "console=ttyS0 initos.test=1");
  EXPECT_EQ(Section(dir_ / "a.efi", ".linux"), *ReadFileToString(o_.kernel));
  EXPECT_EQ(Section(dir_ / "a.efi", ".initrd"), *ReadFileToString(o_.initramfs));
  EXPECT_EQ(Section(dir_ / "a.efi", ".osrel"), DefaultOsRelease());
  EXPECT_NE(DefaultOsRelease().find("ID=initos\n"), std::string::npos);
  EXPECT_NE(DefaultOsRelease().find(std::string("VERSION_ID=") + INITOS_VERSION + "\n"),
            std::string::npos);
  // objcopy stamps the second it runs: cross a second boundary.
  ::sleep(1);
  EXPECT_EQ(Build("b.efi"), a);
  o_.timestamp.reset();
  auto stub_h = ParsePeHeaders(*ReadFileToString(kDefaultUkiStub));
  ASSERT_TRUE(stub_h.ok());
  auto c = ParsePeHeaders(Build("c.efi"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->timestamp, stub_h->timestamp);
}

TEST_F(UkiTest, OsReleaseFileIsUsedAsIs) {
  ASSERT_TRUE(WriteStringToFile(dir_ / "os-release", "ID=initos\nVERSION_ID=42\n").ok());
  o_.os_release_path = dir_ / "os-release";
  ASSERT_FALSE(Build("o.efi").empty());
  EXPECT_EQ(Section(dir_ / "o.efi", ".osrel"), "ID=initos\nVERSION_ID=42\n");
}

TEST_F(UkiTest, SignedIsAcceptedBySbverifyWithItsCertOnly) {
  MakeCert("db");
  MakeCert("other");
  o_.key = dir_ / "db.key";
  o_.cert = dir_ / "db.crt";
  ASSERT_FALSE(Build("s.efi").empty());
  auto ok = RunProgram({"sbverify", "--cert", dir_ / "db.crt", dir_ / "s.efi"});
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  auto other = RunProgram({"sbverify", "--cert", dir_ / "other.crt", dir_ / "s.efi"});
  EXPECT_NE(other.status, 0) << other.out;
  // The signature covers the initramfs: one changed byte in the file breaks it.
  std::string s = *ReadFileToString(dir_ / "s.efi");
  size_t at = s.find("initrd-end");
  ASSERT_NE(at, std::string::npos);
  s[at] = 'X';
  ASSERT_TRUE(WriteStringToFile(dir_ / "t.efi", s).ok());
  auto tampered = RunProgram({"sbverify", "--cert", dir_ / "db.crt", dir_ / "t.efi"});
  EXPECT_NE(tampered.status, 0) << tampered.out;
  // Unsigned builds have no signature at all.
  o_.key.clear();
  o_.cert.clear();
  ASSERT_FALSE(Build("u.efi").empty());
  EXPECT_NE(RunProgram({"sbverify", "--cert", dir_ / "db.crt", dir_ / "u.efi"}).status, 0);
}

TEST_F(UkiTest, SignedWithATimestampIsReproducible) {
  MakeCert("db");
  o_.timestamp = 1700000000;
  o_.key = dir_ / "db.key";
  o_.cert = dir_ / "db.crt";
  std::string a = Build("a.efi");
  ASSERT_FALSE(a.empty());
  ::sleep(1);  // sbsign's signingTime would be another second
  EXPECT_TRUE(Build("b.efi") == a);
  auto ok = RunProgram({"sbverify", "--cert", dir_ / "db.crt", dir_ / "a.efi"});
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  ASSERT_EQ(RunProgram({"sbattach", "--detach", dir_ / "sig.p7", dir_ / "a.efi"}).status, 0);
  auto p7 = RunProgram({"openssl", "pkcs7", "-inform", "der", "-in", dir_ / "sig.p7", "-print"});
  EXPECT_NE(p7.out.find("Nov 14 22:13:20 2023 GMT"), std::string::npos) << p7.out;
  // Without a timestamp, sbsign's own signingTime (now): still verifies.
  o_.timestamp.reset();
  ASSERT_FALSE(Build("c.efi").empty());
  EXPECT_EQ(RunProgram({"sbverify", "--cert", dir_ / "db.crt", dir_ / "c.efi"}).status, 0);
}

TEST_F(UkiTest, SigningTimeNeedsTheSignersKey) {
  MakeCert("db");
  MakeCert("other");
  o_.output = dir_ / "u.efi";
  ASSERT_TRUE(BuildUki(o_).ok());
  ASSERT_EQ(RunProgram({"sbsign", "--key", dir_ / "db.key", "--cert", dir_ / "db.crt", "--detached",
                        "--output", dir_ / "u.p7", dir_ / "u.efi"})
                .status,
            0);
  std::string der = *ReadFileToString(dir_ / "u.p7");
  EXPECT_TRUE(SetSigningTime(der, *ReadFileToString(dir_ / "db.key"), 1700000000).ok());
  auto other = SetSigningTime(der, *ReadFileToString(dir_ / "other.key"), 1700000000);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().str().find("does not belong"), std::string::npos);
  EXPECT_FALSE(SetSigningTime("not der", *ReadFileToString(dir_ / "db.key"), 1).ok());
  EXPECT_FALSE(SetSigningTime(der, "not a key", 1).ok());
}

TEST_F(UkiTest, SignatureOfARebuildTransplantsOntoTheReleaseBytes) {
  // How anyone without the private key checks a signed release: rebuild the
  // unsigned UKI, attach the release's signature, compare
  // (docs/secure-boot.md, "Reproducible releases").
  MakeCert("db");
  o_.timestamp = 1700000000;
  o_.key = dir_ / "db.key";
  o_.cert = dir_ / "db.crt";
  ASSERT_FALSE(Build("release.efi").empty());
  o_.key.clear();
  o_.cert.clear();
  ASSERT_FALSE(Build("rebuild.efi").empty());
  ASSERT_EQ(RunProgram({"sbattach", "--detach", dir_ / "sig.p7", dir_ / "release.efi"}).status, 0);
  auto r = RunProgram({"sbattach", "--attach", dir_ / "sig.p7", dir_ / "rebuild.efi"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(*ReadFileToString(dir_ / "rebuild.efi"), *ReadFileToString(dir_ / "release.efi"));
}

TEST_F(UkiTest, FailuresNameTheThingAndTheFix) {
  o_.output = dir_ / "x.efi";
  o_.key = dir_ / "db.key";
  auto half = BuildUki(o_);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().str().find("both --key and --cert"), std::string::npos);
  o_.key.clear();

  UkiOptions o = o_;
  o.stub = dir_ / "no-stub.efi";
  auto stub = BuildUki(o);
  ASSERT_FALSE(stub.ok());
  EXPECT_NE(stub.error().str().find("install systemd-boot-efi"), std::string::npos)
      << stub.error().str();

  o = o_;
  o.kernel = dir_ / "no-kernel";
  auto kernel = BuildUki(o);
  ASSERT_FALSE(kernel.ok());
  EXPECT_NE(kernel.error().str().find("no-kernel"), std::string::npos);

  o = o_;
  o.kernel = o_.initramfs;  // no PE header: not an EFI-stub kernel
  auto not_efi = BuildUki(o);
  ASSERT_FALSE(not_efi.ok());
  EXPECT_NE(not_efi.error().str().find("CONFIG_EFI_STUB"), std::string::npos);

  o = o_;
  o.cmdline.clear();
  EXPECT_FALSE(BuildUki(o).ok());

  o = o_;
  o.stub = o_.initramfs;  // not a PE image
  EXPECT_FALSE(BuildUki(o).ok());
  EXPECT_NE(::access(o_.output.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// The command line: usage errors exit 2 with one line, failures exit 1 with
// one line, --help exits 0.
TEST(UkiCli, UsageAndFailures) {
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir / "k", *ReadFileToString(kDefaultUkiStub)).ok());
  ASSERT_TRUE(WriteStringToFile(dir / "i", "initrd").ok());
  const std::vector<std::string> base = {INITOS_BINARY, "image",       "uki",
                                         "-o",          dir / "u.efi", "--kernel",
                                         dir / "k",     "--initramfs", dir / "i"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProgram(argv);
  };
  auto key_only = with({"--key", dir / "db.key"});
  EXPECT_EQ(key_only.status, 2);
  EXPECT_NE(key_only.err.find("--key and --cert go together"), std::string::npos) << key_only.err;
  EXPECT_EQ(key_only.err.find('\n'), key_only.err.size() - 1) << key_only.err;
  EXPECT_EQ(with({"--cert", dir / "db.crt"}).status, 2);
  EXPECT_EQ(with({"--cmdline", ""}).status, 2);
  EXPECT_EQ(RunProgram({INITOS_BINARY, "image", "uki", "-o", dir / "u.efi"}).status, 2);
  auto stub = with({"--stub", dir / "none.stub"});
  EXPECT_EQ(stub.status, 1);
  EXPECT_NE(stub.err.find("install systemd-boot-efi"), std::string::npos) << stub.err;
  EXPECT_EQ(stub.err.find('\n'), stub.err.size() - 1) << stub.err;
  auto ok = with({});
  EXPECT_EQ(ok.status, 0) << ok.err;
  auto sum = RunProgram({"sha256sum", dir / "u.efi"});
  ASSERT_EQ(sum.status, 0);
  EXPECT_NE(ok.out.find("sha256 " + sum.out.substr(0, 64)), std::string::npos) << ok.out;
  auto help = RunProgram({INITOS_BINARY, "image", "uki", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--initramfs"), std::string::npos);
  auto list = RunProgram({INITOS_BINARY, "image", "--help"});
  EXPECT_NE(list.out.find("uki"), std::string::npos);
  EXPECT_NE(list.out.find("esp"), std::string::npos);
}

TEST(EspCli, UsageAndFailures) {
  testutil::TempDir dir;
  auto missing = RunProgram({INITOS_BINARY, "image", "esp", "-o", dir / "esp.img"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("missing --uki"), std::string::npos) << missing.err;
  auto size = RunProgram({INITOS_BINARY, "image", "esp", "-o", dir / "esp.img", "--uki",
                          dir / "a.efi", "--size-mib", "x"});
  EXPECT_EQ(size.status, 2);
  auto none =
      RunProgram({INITOS_BINARY, "image", "esp", "-o", dir / "esp.img", "--uki", dir / "a.efi"});
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("initos image uki"), std::string::npos) << none.err;
  EXPECT_EQ(none.err.find('\n'), none.err.size() - 1) << none.err;
}

}  // namespace
}  // namespace initos
