// A release rebuilt from the same tree with the same SOURCE_DATE_EPOCH is
// byte-identical: bundle, initramfs, UKI (unsigned and signed) and ESP, each built by
// the initos binary twice, a wall-clock second apart (every tool that would
// stamp "now" gets a different second). A different SOURCE_DATE_EPOCH
// changes the bundle's salt and root hash. docs/secure-boot.md,
// "Reproducible releases".
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/bundle.h"
#include "image/erofs.h"
#include "image/uki.h"

namespace initos {
namespace {

using testutil::RunProgram;

class ReproducibleRelease : public ::testing::Test {
 protected:
  void SetUp() override {
    // Each build gets its epoch explicitly; one set around the tests would leak in.
    ::unsetenv("SOURCE_DATE_EPOCH");
    ASSERT_FALSE(FindInPath("mkfs.erofs").empty()) << "install erofs-utils (scripts/setup.sh)";
    ASSERT_TRUE(MakeDirs(dir_ / "src/rootfs/etc").ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "src/rootfs/etc/hostname", "initos\n").ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "src/rootfs/app", std::string(50000, 'x')).ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "src/initos.toml", "[init]\nmain = [\"/app\"]\n").ok());
    // A stand-in kernel: any PE32+ image (the stub itself) and some bytes.
    ASSERT_TRUE(WriteStringToFile(dir_ / "src/vmlinuz",
                                  *ReadFileToString(kDefaultUkiStub) + std::string(40000, 'k'))
                    .ok());
    ASSERT_EQ(Initos({"image", "keygen", "-o", dir_ / "keys"}, "").status, 0);
    auto cert = RunProgram({"openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-subj", "/CN=initos release test db", "-days", "30", "-keyout",
                            dir_ / "keys/db.key", "-out", dir_ / "keys/db.crt"});
    ASSERT_EQ(cert.status, 0) << cert.err;
  }
  testutil::RunResult Initos(std::vector<std::string> args, const std::string& epoch) {
    args.insert(args.begin(), INITOS_BINARY);
    std::vector<std::string> env;
    if (!epoch.empty()) env.push_back("SOURCE_DATE_EPOCH=" + epoch);
    auto r = RunProgram(args, "", "", env);
    EXPECT_EQ(r.status, 0) << args[2] << ": " << r.err;
    return r;
  }
  // Builds every release artifact into OUT from dir_/src.
  void Release(const std::string& out, const std::string& epoch) {
    ASSERT_TRUE(MakeDirs(out).ok());
    Initos({"image", "build", "--rootfs", dir_ / "src/rootfs", "--key", dir_ / "keys/signing.key",
            "--name", "demo", "--version", "3", "-o", out + "/root.bundle"},
           epoch);
    Initos({"image", "initramfs", "-o", out + "/initramfs.img", "--initos", INITOS_BINARY,
            "--config", dir_ / "src/initos.toml", "--compress", "gzip", "--level", "1"},
           epoch);
    Initos({"image", "uki", "-o", out + "/initos.efi", "--kernel", dir_ / "src/vmlinuz",
            "--initramfs", out + "/initramfs.img", "--cmdline", "console=ttyS0"},
           epoch);
    Initos({"image", "uki", "-o", out + "/initos-signed.efi", "--kernel", dir_ / "src/vmlinuz",
            "--initramfs", out + "/initramfs.img", "--cmdline", "console=ttyS0", "--key",
            dir_ / "keys/db.key", "--cert", dir_ / "keys/db.crt"},
           epoch);
    Initos({"image", "esp", "-o", out + "/esp.img", "--uki", out + "/initos.efi"}, epoch);
  }
  std::string Read(const std::string& path) {
    auto s = ReadFileToString(path);
    EXPECT_TRUE(s.ok()) << path;
    return s.ok() ? *s : "";
  }
  Manifest InfoOf(const std::string& path) {
    auto fd = OpenFile(path, O_RDONLY);
    EXPECT_TRUE(fd.ok());
    auto b = ReadBundle(fd->get());
    EXPECT_TRUE(b.ok()) << b.error().str();
    return b.ok() ? b->manifest : Manifest{};
  }
  testutil::TempDir dir_;
};

TEST_F(ReproducibleRelease, SameEpochSameBytesOtherEpochOtherSalt) {
  Release(dir_ / "a", "1700000000");
  ::sleep(1);
  Release(dir_ / "b", "1700000000");
  for (const char* f :
       {"root.bundle", "initramfs.img", "initos.efi", "initos-signed.efi", "esp.img"}) {
    std::string a = Read(dir_ / "a/" + f);
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_TRUE(a == Read(dir_ / "b/" + f)) << f << " differs between two builds";
  }
  Release(dir_ / "c", "1700000001");
  Manifest a = InfoOf(dir_ / "a/root.bundle"), c = InfoOf(dir_ / "c/root.bundle");
  EXPECT_NE(a.salt, c.salt);
  EXPECT_NE(a.root_hash, c.root_hash);
  EXPECT_NE(Read(dir_ / "a/initramfs.img"), Read(dir_ / "c/initramfs.img"));  // mtimes
  EXPECT_NE(Read(dir_ / "a/initos.efi"), Read(dir_ / "c/initos.efi"));
}

TEST_F(ReproducibleRelease, WithoutEpochOrSeedTheSaltIsRandom) {
  for (const char* out : {"x.bundle", "y.bundle"}) {
    Initos({"image", "build", "--rootfs", dir_ / "src/rootfs", "--key", dir_ / "keys/signing.key",
            "--name", "demo", "--version", "3", "--created", "5", "-o", dir_ / out},
           "");
  }
  EXPECT_NE(InfoOf(dir_ / "x.bundle").salt, InfoOf(dir_ / "y.bundle").salt);
}

}  // namespace
}  // namespace initos
