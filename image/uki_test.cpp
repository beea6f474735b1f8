// `initos image uki` end to end on this host's tools: objcopy (binutils),
// the systemd-stub (systemd-boot-efi), sbsign/sbverify (sbsigntool) and
// openssl for a throwaway certificate; all installed by scripts/setup.sh.
#include "image/uki.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/uki_layout.h"

namespace initos {
namespace {

using testutil::RunProgram;

class UkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteStringToFile(dir_ / "vmlinuz", std::string(70000, 'K') + "kernel-end").ok());
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

TEST_F(UkiTest, SignatureOfARebuildTransplantsOntoTheReleaseBytes) {
  // sbsign's PKCS#7 carries a signingTime, so two signed builds differ; the
  // unsigned UKI is reproducible, and the release's signature attached to a
  // rebuild gives the release byte for byte (docs/secure-boot.md).
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
  o.cmdline.clear();
  EXPECT_FALSE(BuildUki(o).ok());

  o = o_;
  o.stub = o_.kernel;  // not a PE image
  EXPECT_FALSE(BuildUki(o).ok());
  EXPECT_NE(::access(o_.output.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace initos
