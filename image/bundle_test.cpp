#include "image/bundle.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/bundle_cli.h"
#include "image/erofs.h"

namespace initos {
namespace {

std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// ---- header (pure) ---------------------------------------------------------

TEST(BundleHeaderTest, EncodeParseRoundTrip) {
  auto area = EncodeBundleHeader("name=x\n", "SIG");
  ASSERT_TRUE(area.ok()) << area.error().str();
  ASSERT_EQ(area->size(), kBundleHeaderAreaSize);
  // Byte layout as docs/bundle-format.md describes it.
  EXPECT_EQ(area->substr(0, 8), "INITOSB1");
  EXPECT_EQ(area->substr(8, 4), Le32(1));
  EXPECT_EQ(area->substr(12, 4), Le32(65536));
  EXPECT_EQ(area->substr(16, 4), Le32(7));
  EXPECT_EQ(area->substr(20, 4), Le32(3));
  EXPECT_EQ(area->substr(4096, 10), "name=x\nSIG");
  auto h = ParseBundleHeader(*area, 1 << 20);
  ASSERT_TRUE(h.ok()) << h.error().str();
  EXPECT_EQ(h->manifest, "name=x\n");
  EXPECT_EQ(h->signature, "SIG");
}

std::string HeaderError(const std::string& area, uint64_t device_size = 1 << 20) {
  auto h = ParseBundleHeader(area, device_size);
  EXPECT_FALSE(h.ok());
  return h.ok() ? "" : h.error().str();
}

TEST(BundleHeaderTest, RejectsBadMagicAndVersion) {
  std::string area = *EncodeBundleHeader("m\n", "s");
  std::string bad = area;
  bad[7] = '2';
  EXPECT_EQ(HeaderError(bad), "not an InitOS bundle (bad magic in the header)");
  bad = area;
  bad.replace(8, 4, Le32(2));
  EXPECT_NE(HeaderError(bad).find("unsupported bundle header version 2"), std::string::npos);
  bad = area;
  bad.replace(12, 4, Le32(4096));
  EXPECT_NE(HeaderError(bad).find("header area size 4096"), std::string::npos);
}

TEST(BundleHeaderTest, RejectsLengthsOutOfBounds) {
  std::string area = *EncodeBundleHeader("m\n", "s");
  std::string bad = area;
  bad.replace(16, 4, Le32(0));
  EXPECT_NE(HeaderError(bad).find("manifest length 0 out of bounds"), std::string::npos);
  bad.replace(16, 4, Le32(0xffffffff));
  EXPECT_NE(HeaderError(bad).find("manifest length 4294967295 out of bounds"), std::string::npos);
  bad = area;
  bad.replace(20, 4, Le32(kBundleMaxSignatureSize + 1));
  EXPECT_NE(HeaderError(bad).find("signature length 1025 out of bounds"), std::string::npos);
  bad = area;
  bad.replace(16, 4, Le32(kManifestMaxSize));
  bad.replace(20, 4, Le32(1000));
  EXPECT_NE(HeaderError(bad).find("overrun the header area"), std::string::npos);
  EXPECT_FALSE(EncodeBundleHeader(std::string(kManifestMaxSize, 'm'), "sig").ok());
  EXPECT_FALSE(EncodeBundleHeader("m", std::string(2000, 's')).ok());
}

TEST(BundleHeaderTest, RejectsNonZeroPaddingAndShortInput) {
  std::string area = *EncodeBundleHeader("m\n", "s");
  std::string bad = area;
  bad[100] = 1;
  EXPECT_EQ(HeaderError(bad), "header: reserved byte 100 is not zero");
  bad = area;
  bad[60000] = 1;
  EXPECT_EQ(HeaderError(bad), "header area: unused byte 60000 after the signature is not zero");
  EXPECT_NE(HeaderError(area.substr(0, 4096)).find("too small to be a bundle"), std::string::npos);
  EXPECT_NE(HeaderError(area, 65535).find("too small to be a bundle"), std::string::npos);
}

TEST(BundleCliTest, JsonQuoteEscapes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

// ---- end to end through the real binary ------------------------------------

struct RunResult {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

RunResult RunInitos(const std::string& args, const std::string& env = "") {
  ::initos::testutil::ShellResult r = ::initos::testutil::Shell(env + " " INITOS_BINARY " " + args);
  return {r.code, r.out};
}

class BundleEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindInPath("mkfs.erofs").empty()) GTEST_SKIP() << "mkfs.erofs not installed";
    char tmpl[] = "/tmp/initos-bundle-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/root/etc").ok());
    ASSERT_TRUE(WriteStringToFile(dir_ + "/root/etc/hostname", "initos\n").ok());
    // Enough data for a multi-block tree: 300 distinct 4 KiB blocks.
    std::string big;
    for (int i = 0; i < 300; ++i)
      big += std::string(4096, static_cast<char>('a' + i % 26)) + std::to_string(i);
    ASSERT_TRUE(WriteStringToFile(dir_ + "/root/big", big).ok());
    auto r = RunInitos("image keygen -o " + dir_ + "/keys");
    ASSERT_EQ(r.rc, 0) << r.out;
    bundle_ = dir_ + "/bundle.img";
  }
  void TearDown() override {
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }

  RunResult Build(const std::string& out, const std::string& extra = "",
                  const std::string& env = "") {
    return RunInitos("image build --rootfs " + dir_ + "/root --key " + dir_ +
                         "/keys/signing.key --name demo --version 7 -o " + out + " " + extra,
                     env);
  }
  Manifest InfoOf(const std::string& path) {
    auto fd = OpenFile(path, O_RDONLY);
    EXPECT_TRUE(fd.ok());
    auto b = ReadBundle(fd->get());
    EXPECT_TRUE(b.ok()) << b.error().str();
    return b.ok() ? b->manifest : Manifest{};
  }
  RunResult Verify(const std::string& keys = "") {
    return RunInitos("image verify " + bundle_ + " --key " + dir_ + "/keys/signing.pub " + keys);
  }
  std::string ReadBundleFile() { return *ReadFileToString(bundle_); }
  void WriteBundleFile(const std::string& s) { ASSERT_TRUE(WriteStringToFile(bundle_, s).ok()); }
  Manifest Info() {
    auto fd = OpenFile(bundle_, O_RDONLY);
    EXPECT_TRUE(fd.ok());
    auto b = ReadBundle(fd->get());
    EXPECT_TRUE(b.ok()) << b.error().str();
    return b->manifest;
  }
  // Flips one bit, runs verify, restores the byte; returns verify's result.
  RunResult VerifyWithFlippedBit(uint64_t offset) {
    std::string orig = ReadBundleFile();
    std::string bad = orig;
    bad[offset] ^= 0x10;
    WriteBundleFile(bad);
    RunResult r = Verify();
    WriteBundleFile(orig);
    return r;
  }

  std::string dir_, bundle_;
};

std::string OneLine(const RunResult& r) {
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  return r.out;
}

TEST_F(BundleEndToEnd, KeygenWritesPrivateKey0600AndRefusesOverwrite) {
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/keys/signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/keys/signing.pub").c_str(), &st), 0);
  std::string before = *ReadFileToString(dir_ + "/keys/signing.key");
  auto r = RunInitos("image keygen -o " + dir_ + "/keys");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("refusing to overwrite"), std::string::npos) << r.out;
  EXPECT_EQ(*ReadFileToString(dir_ + "/keys/signing.key"), before);
  r = RunInitos("image keygen --force -o " + dir_ + "/keys");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("DEVELOPMENT KEY: "), std::string::npos) << r.out;
  EXPECT_NE(*ReadFileToString(dir_ + "/keys/signing.key"), before);
}

TEST_F(BundleEndToEnd, BuildVerifyAndDetectEveryTamperedRegion) {
  auto b = Build(bundle_);
  ASSERT_EQ(b.rc, 0) << b.out;
  auto v = Verify();
  ASSERT_EQ(v.rc, 0) << v.out;
  EXPECT_NE(v.out.find(": OK: demo version 7"), std::string::npos) << v.out;

  Manifest m = Info();
  std::string file = ReadBundleFile();
  uint32_t mlen = 0;
  std::memcpy(&mlen, file.data() + 16, 4);  // little-endian host
  const std::string p = bundle_ + ": ";

  auto r = VerifyWithFlippedBit(0);  // header magic
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), p + "not an InitOS bundle (bad magic in the header)\n");
  r = VerifyWithFlippedBit(30);  // reserved header byte
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), p + "header: reserved byte 30 is not zero\n");
  r = VerifyWithFlippedBit(4096 + 20);  // manifest
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), p + "signature does not match any of 1 trusted key\n");
  r = VerifyWithFlippedBit(4096 + mlen + 5);  // signature
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), p + "signature does not match any of 1 trusted key\n");
  r = VerifyWithFlippedBit(m.data_offset + 17 * 4096 + 100);  // data block 17
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), p + "verity mismatch: data block 17\n");
  r = VerifyWithFlippedBit(m.hash_offset + 32);  // superblock: algorithm name
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(OneLine(r).find("bad verity superblock"), std::string::npos) << r.out;
  r = VerifyWithFlippedBit(m.hash_offset + 1000);  // superblock: unused bytes
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), p + "verity superblock: unused byte 1000 is not zero\n");
  r = VerifyWithFlippedBit(m.hash_offset + 4096 + 3);  // top tree level, after the superblock
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(OneLine(r).find("verity mismatch: root hash mismatch"), std::string::npos) << r.out;
  r = VerifyWithFlippedBit(m.hash_offset + m.hash_size - 1);  // last level-0 block / padding
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(OneLine(r).find("verity mismatch: hash block at offset"), std::string::npos) << r.out;

  // The untouched file still verifies (every flip was restored).
  EXPECT_EQ(Verify().rc, 0);

  // Truncated: the manifest's regions no longer fit.
  ASSERT_EQ(::truncate(bundle_.c_str(), static_cast<off_t>(m.hash_offset + 4096)), 0);
  r = Verify();
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(OneLine(r).find("device has only"), std::string::npos);
}

TEST_F(BundleEndToEnd, WrongKeyRefusedRotatedKeyAccepted) {
  ASSERT_EQ(Build(bundle_).rc, 0);
  ASSERT_EQ(RunInitos("image keygen --type ecdsa-p256 -o " + dir_ + "/other").rc, 0);
  auto r = RunInitos("image verify " + bundle_ + " --key " + dir_ + "/other/signing.pub");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(OneLine(r), bundle_ + ": signature does not match any of 1 trusted key\n");
  // Old ECDSA key plus the signing key: accepted, and the matching key named.
  r = RunInitos("image verify " + bundle_ + " --key " + dir_ + "/other/signing.pub --key " + dir_ +
                "/keys/signing.pub");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("(" + dir_ + "/keys/signing.pub)"), std::string::npos) << r.out;
  // Signed with ECDSA this time.
  auto b = RunInitos("image build --rootfs " + dir_ + "/root --key " + dir_ +
                     "/other/signing.key --name demo --version 8 -o " + bundle_);
  ASSERT_EQ(b.rc, 0) << b.out;
  r = RunInitos("image verify " + bundle_ + " --key " + dir_ + "/keys/signing.pub --key " + dir_ +
                "/other/signing.pub");
  EXPECT_EQ(r.rc, 0) << r.out;
  // A private key given as trusted key: a clear error.
  r = RunInitos("image verify " + bundle_ + " --key " + dir_ + "/other/signing.key");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(OneLine(r).find("is a private key"), std::string::npos) << r.out;
}

TEST_F(BundleEndToEnd, ReproducibleWithSaltAndCreated) {
  std::string fixed = "--salt 00112233 --created 1700000000";
  ASSERT_EQ(Build(dir_ + "/a.img", fixed).rc, 0);
  ASSERT_EQ(Build(dir_ + "/b.img", fixed).rc, 0);
  ASSERT_EQ(Build(dir_ + "/c.img", "--created 1700000000").rc, 0);  // random salt
  std::string a = *ReadFileToString(dir_ + "/a.img");
  EXPECT_EQ(a, *ReadFileToString(dir_ + "/b.img"));
  EXPECT_NE(a, *ReadFileToString(dir_ + "/c.img"));
}

TEST(BundleSalt, DerivedFromSeedNameAndVersion) {
  const auto salt = DeriveSalt("release-1", "demo", 7);
  EXPECT_EQ(salt.size(), 32u);
  EXPECT_EQ(DeriveSalt("release-1", "demo", 7), salt);
  EXPECT_NE(DeriveSalt("release-2", "demo", 7), salt);
  EXPECT_NE(DeriveSalt("release-1", "other", 7), salt);
  EXPECT_NE(DeriveSalt("release-1", "demo", 8), salt);
  // The separators keep "ab"+"c" and "a"+"bc" apart.
  EXPECT_NE(DeriveSalt("ab", "c", 7), DeriveSalt("a", "bc", 7));
}

TEST_F(BundleEndToEnd, ReproducibleWithSourceDateEpoch) {
  const std::string sde = "SOURCE_DATE_EPOCH=1700000000";
  ASSERT_EQ(Build(dir_ + "/a.img", "", sde).rc, 0);
  ASSERT_EQ(Build(dir_ + "/b.img", "", sde).rc, 0);
  ASSERT_EQ(Build(dir_ + "/c.img", "", "SOURCE_DATE_EPOCH=1700000001").rc, 0);
  std::string a = *ReadFileToString(dir_ + "/a.img");
  EXPECT_EQ(a, *ReadFileToString(dir_ + "/b.img"));
  Manifest m = InfoOf(dir_ + "/a.img");
  EXPECT_EQ(m.created, 1700000000u);
  EXPECT_EQ(m.salt, HexEncode(DeriveSalt(sde, "demo", 7)));
  Manifest c = InfoOf(dir_ + "/c.img");
  EXPECT_NE(c.salt, m.salt);
  EXPECT_NE(c.root_hash, m.root_hash);
  EXPECT_NE(c.uuid, m.uuid);  // the UUID follows the salt
}

TEST_F(BundleEndToEnd, SeedDerivesTheSaltAndSaltWins) {
  ASSERT_EQ(Build(dir_ + "/a.img", "--seed one --created 5").rc, 0);
  ASSERT_EQ(Build(dir_ + "/b.img", "--seed one --created 5").rc, 0);
  ASSERT_EQ(Build(dir_ + "/c.img", "--seed two --created 5").rc, 0);
  ASSERT_EQ(Build(dir_ + "/d.img", "--seed one --salt 0011 --created 5").rc, 0);
  EXPECT_EQ(*ReadFileToString(dir_ + "/a.img"), *ReadFileToString(dir_ + "/b.img"));
  EXPECT_EQ(InfoOf(dir_ + "/a.img").salt, HexEncode(DeriveSalt("one", "demo", 7)));
  EXPECT_EQ(InfoOf(dir_ + "/c.img").salt, HexEncode(DeriveSalt("two", "demo", 7)));
  EXPECT_EQ(InfoOf(dir_ + "/d.img").salt, "0011");
  // A seed with the wall clock as creation time would not be reproducible.
  auto r = Build(dir_ + "/e.img", "--seed one");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("SOURCE_DATE_EPOCH or --created"), std::string::npos) << r.out;
}

TEST_F(BundleEndToEnd, BuildsFromTarball) {
  ASSERT_EQ(std::system(("tar -C " + dir_ + "/root -czf " + dir_ + "/root.tar.gz .").c_str()), 0);
  auto b = RunInitos("image build --rootfs " + dir_ + "/root.tar.gz --key " + dir_ +
                     "/keys/signing.key --name fromtar --version 1 -o " + bundle_);
  ASSERT_EQ(b.rc, 0) << b.out;
  EXPECT_EQ(Verify().rc, 0);
  EXPECT_EQ(Info().name, "fromtar");
  // The temporary extraction directory is gone.
  auto r = RunInitos("image build --rootfs " + dir_ + "/missing.tar --key " + dir_ +
                     "/keys/signing.key --name x --version 1 -o " + bundle_);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("missing.tar"), std::string::npos) << r.out;
}

TEST_F(BundleEndToEnd, MissingMkfsErofsIsExplained) {
  auto r = RunInitos("image build --rootfs " + dir_ + "/root --key " + dir_ +
                         "/keys/signing.key --name demo --version 1 -o " + bundle_,
                     "PATH=/nonexistent");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("mkfs.erofs not found: install erofs-utils (scripts/setup.sh)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(::access(bundle_.c_str(), F_OK), 0);
}

TEST_F(BundleEndToEnd, InfoJsonMatchesManifest) {
  ASSERT_EQ(Build(bundle_, "--salt abcd --created 1600000000").rc, 0);
  auto r = RunInitos("image info --json " + bundle_);
  ASSERT_EQ(r.rc, 0) << r.out;
  Manifest m = Info();
  EXPECT_NE(r.out.find("\"hash_offset\": " + std::to_string(m.hash_offset) + ","),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"root_hash\": \"" + m.root_hash + "\""), std::string::npos);
  EXPECT_NE(r.out.find("\"salt\": \"abcd\""), std::string::npos);
  EXPECT_NE(r.out.find("\"created\": 1600000000"), std::string::npos);
  EXPECT_EQ(m.hash_offset, m.data_offset + m.data_size);
  if (!FindInPath("python3").empty()) {
    std::string check =
        "python3 -c 'import json,sys; d=json.load(sys.stdin); "
        "assert d[\"name\"]==\"demo\" and d[\"version\"]==7' ";
    ASSERT_TRUE(WriteStringToFile(dir_ + "/info.json", r.out).ok());
    EXPECT_EQ(std::system((check + "< " + dir_ + "/info.json").c_str()), 0) << r.out;
  }
  auto text = RunInitos("image info " + bundle_);
  EXPECT_NE(text.out.find("hash_offset: " + std::to_string(m.hash_offset) + "\n"),
            std::string::npos);
}

TEST_F(BundleEndToEnd, UsageErrors) {
  EXPECT_EQ(RunInitos("image build --help").rc, 0);
  EXPECT_EQ(RunInitos("image verify " + dir_ + "/x").rc, 2);  // no --key
  EXPECT_EQ(RunInitos("image build --rootfs x").rc, 2);
  auto r = RunInitos("image verify " + dir_ + "/nope.img --key " + dir_ + "/keys/signing.pub");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(OneLine(r).find("nope.img: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace initos
