#include "format/verity.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace initos {
namespace {

// The salt/uuid the reference root hashes below were made with.
constexpr char kSaltHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::array<uint8_t, 16> kUuid = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                           0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

// Deterministic image: byte k of block b is (13k + 7b + 1) mod 251. The same
// content was generated with
//   python3 -c 'import sys; n,bs=N,BS; sys.stdout.buffer.write(b"".join(
//     bytes((k*13+b*7+1)%251 for k in range(bs)) for b in range(n)))' > img
std::vector<uint8_t> TestImage(uint64_t blocks, uint32_t block_size = 4096) {
  std::vector<uint8_t> out(blocks * block_size);
  for (uint64_t b = 0; b < blocks; b++) {
    for (uint32_t k = 0; k < block_size; k++) {
      out[b * block_size + k] = static_cast<uint8_t>((k * 13 + b * 7 + 1) % 251);
    }
  }
  return out;
}

unique_fd MemFile(const std::vector<uint8_t>& content = {}) {
  unique_fd fd(memfd_create("verity_test", MFD_CLOEXEC));
  EXPECT_TRUE(fd.ok());
  if (!content.empty()) {
    EXPECT_EQ(pwrite(fd.get(), content.data(), content.size(), 0),
              static_cast<ssize_t>(content.size()));
  }
  return fd;
}

VerityParams TestParams(const std::string& algorithm = "sha256") {
  VerityParams p;
  p.algorithm = algorithm;
  p.salt = *HexDecode(kSaltHex);
  p.uuid = kUuid;
  return p;
}

std::string BuildRoot(uint64_t blocks, const VerityParams& p) {
  auto data = MemFile(TestImage(blocks, p.data_block_size));
  auto hash = MemFile();
  auto tree = BuildVerityTree(data.get(), 0, blocks * p.data_block_size, hash.get(), 0, p);
  EXPECT_TRUE(tree.ok()) << tree.error().str();
  if (!tree.ok()) return "";
  struct stat st {};
  EXPECT_EQ(fstat(hash.get(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), tree->hash_size);
  EXPECT_EQ(tree->hash_size, VerityTreeSize(blocks * p.data_block_size, p).value());
  EXPECT_EQ(tree->data_blocks, blocks);
  return HexEncode(tree->root_hash);
}

// Expected values below come from cryptsetup 2.6.1 (Debian 12), with img made
// by the python line above:
//   veritysetup format img hash --salt=000102...1f (kSaltHex)
//       --uuid=00112233-4455-6677-8899-aabbccddeeff [--hash=ALG]
// (sha1 case: --salt=-; 512-byte case: --data-block-size=512
//  --hash-block-size=1024), reading "Root hash:".
TEST(VerityKnownVectors, Sha256MatchesVeritysetup) {
  const auto p = TestParams();
  EXPECT_EQ(BuildRoot(1, p), "4b5750921d6854ff6e872b0aedbcd80f810fb996e9b748a46d865728cfb27875");
  EXPECT_EQ(BuildRoot(2, p), "bcc8ff63d7ab24972ec6c91144dab9d0a4ea80baa8ecf78a2903af5e5b11a317");
  EXPECT_EQ(BuildRoot(129, p), "f46c64f1472e2cce70cad95d51ac61a713b24ad061327d40780e35b0adaadbcc");
  EXPECT_EQ(BuildRoot(4097, p), "605489b09b35d341e20e6267f0605fed444e3f360bd59aac949a7fda5f1ca772");
}

TEST(VerityKnownVectors, OtherDigestsAndBlockSizes) {
  EXPECT_EQ(BuildRoot(129, TestParams("sha512")),
            "201c571b6447b34550b1cb6fc31ed2b04475d478354a2ee7aff149ed231b1b08"
            "508aae2191e6e0923342794ddc96611260a879f594cb5163ed55d82e218d324a");
  auto sha1 = TestParams("sha1");
  sha1.salt.clear();
  EXPECT_EQ(BuildRoot(129, sha1), "2599c48fae0cb14a04947e9845dc2a4caced5a2b");
  auto small = TestParams();
  small.data_block_size = 512;
  small.hash_block_size = 1024;
  EXPECT_EQ(BuildRoot(300, small),
            "2167ec16df124f96ee61a75342c93cba7907b7014dcd02a502d0bc53707ff340");
}

TEST(VerityKnownVectors, ThreadCountDoesNotChangeTree) {
  auto p = TestParams();
  const std::string reference = BuildRoot(4097, p);
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    p.threads = threads;
    EXPECT_EQ(BuildRoot(4097, p), reference) << threads << " threads";
  }
}

TEST(VerityTreeSize, LevelsAndSuperblock) {
  const auto p = TestParams();
  constexpr uint64_t B = 4096;
  // superblock block + levels; sha256 gives 128 hashes per 4 KiB block.
  EXPECT_EQ(VerityTreeSize(1 * B, p).value(), 1 * B);                // root = H(data block)
  EXPECT_EQ(VerityTreeSize(2 * B, p).value(), 2 * B);                // one level of one block
  EXPECT_EQ(VerityTreeSize(128 * B, p).value(), 2 * B);              // still one block
  EXPECT_EQ(VerityTreeSize(129 * B, p).value(), 4 * B);              // 2 + top
  EXPECT_EQ(VerityTreeSize(4097 * B, p).value(), (1 + 1 + 33) * B);  // 33 below the top block
  EXPECT_EQ(VerityTreeSize(16384 * B, p).value(), (1 + 1 + 128) * B);
  EXPECT_EQ(VerityTreeSize(16385 * B, p).value(), (1 + 1 + 2 + 129) * B);
  auto sha512 = TestParams("sha512");  // 64 hashes per block
  EXPECT_EQ(VerityTreeSize(65 * B, sha512).value(), (1 + 1 + 2) * B);
  EXPECT_FALSE(VerityTreeSize(4095, p).ok());  // not a whole number of blocks
  EXPECT_FALSE(VerityTreeSize(0, p).ok());
  VerityParams bad = p;
  bad.algorithm = "no-such-digest";
  EXPECT_FALSE(VerityTreeSize(4096, bad).ok());
}

// A built tree plus the data, in one file (data first, tree after) the way
// the bundle stores it.
struct Fixture {
  VerityParams params = TestParams();
  uint64_t blocks = 300;  // two levels: 3 level-0 blocks + top
  uint64_t data_size = blocks * 4096;
  unique_fd fd;
  std::vector<uint8_t> root;

  Fixture() {
    fd = MemFile(TestImage(blocks));
    auto tree = BuildVerityTree(fd.get(), 0, data_size, fd.get(), data_size, params);
    EXPECT_TRUE(tree.ok()) << tree.error().str();
    if (tree.ok()) root = tree->root_hash;
  }
  Result<void> Verify() {
    return VerifyVerityTree(fd.get(), 0, data_size, fd.get(), data_size, params, root);
  }
  void Flip(uint64_t offset) {
    uint8_t b = 0;
    ASSERT_EQ(pread(fd.get(), &b, 1, offset), 1);
    b ^= 0x40;
    ASSERT_EQ(pwrite(fd.get(), &b, 1, offset), 1);
  }
};

TEST(VerifyVerityTree, AcceptsIntactTreeAndReportsProgress) {
  Fixture f;
  uint64_t last_done = 0, last_total = 0;
  auto r = VerifyVerityTree(f.fd.get(), 0, f.data_size, f.fd.get(), f.data_size, f.params, f.root,
                            [&](uint64_t done, uint64_t total) {
                              EXPECT_GE(done, last_done);
                              last_done = done;
                              last_total = total;
                            });
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(last_done, f.blocks);
  EXPECT_EQ(last_total, f.blocks);
}

TEST(VerifyVerityTree, NamesFlippedDataBlock) {
  Fixture f;
  f.Flip(257 * 4096 + 100);
  auto r = f.Verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("data block 257"), std::string::npos) << r.error().message;
}

TEST(VerifyVerityTree, NamesFlippedHashBlock) {
  Fixture f;
  // Layout after the data: superblock block, top block, 3 level-0 blocks.
  const uint64_t level0_block1 = f.data_size + 3 * 4096;
  f.Flip(level0_block1 + 5);
  auto r = f.Verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("hash block at offset " + std::to_string(level0_block1) +
                                   " (level 0)"),
            std::string::npos)
      << r.error().message;
}

TEST(VerifyVerityTree, FlippedTopBlockIsRootMismatch) {
  Fixture f;
  f.Flip(f.data_size + 4096 + 1);
  auto r = f.Verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("root hash mismatch"), std::string::npos) << r.error().message;
}

TEST(VerifyVerityTree, DetectsSuperblockDamage) {
  for (uint64_t field : {0u, 8u, 16u, 32u, 64u, 72u, 88u}) {  // signature .. salt
    Fixture f;
    f.Flip(f.data_size + field);
    auto r = f.Verify();
    ASSERT_FALSE(r.ok()) << "offset " << field;
    EXPECT_EQ(r.error().message.rfind("bad verity superblock: ", 0), 0u) << r.error().message;
  }
}

TEST(VerifyVerityTree, RejectsWrongSaltAndRoot) {
  Fixture f;
  f.params.salt[0] ^= 1;
  auto r = f.Verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("salt differs"), std::string::npos) << r.error().message;

  Fixture g;
  g.root[3] ^= 1;
  r = g.Verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("root hash mismatch"), std::string::npos);
}

TEST(VerifyVerityTree, SingleBlockImage) {
  auto p = TestParams();
  auto fd = MemFile(TestImage(1));
  auto tree = BuildVerityTree(fd.get(), 0, 4096, fd.get(), 4096, p);
  ASSERT_TRUE(tree.ok()) << tree.error().str();
  EXPECT_TRUE(VerifyVerityTree(fd.get(), 0, 4096, fd.get(), 4096, p, tree->root_hash).ok());
  uint8_t b = 1;
  ASSERT_EQ(pwrite(fd.get(), &b, 1, 10), 1);
  auto r = VerifyVerityTree(fd.get(), 0, 4096, fd.get(), 4096, p, tree->root_hash);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("root hash mismatch"), std::string::npos);
}

TEST(BuildVerityTree, DataOffsetAndHashOffset) {
  // Data at an offset must give the same root as the same data at 0.
  auto p = TestParams();
  auto image = TestImage(129);
  std::vector<uint8_t> shifted(8192 + image.size(), 0xee);
  std::memcpy(shifted.data() + 8192, image.data(), image.size());
  auto fd = MemFile(shifted);
  auto tree = BuildVerityTree(fd.get(), 8192, image.size(), fd.get(), 8192 + image.size() + 512, p);
  ASSERT_TRUE(tree.ok()) << tree.error().str();
  EXPECT_EQ(HexEncode(tree->root_hash), BuildRoot(129, p));
  EXPECT_TRUE(VerifyVerityTree(fd.get(), 8192, image.size(), fd.get(), 8192 + image.size() + 512, p,
                               tree->root_hash)
                  .ok());
}

TEST(BuildVerityTree, DataOffsetNotPageAligned) {
  // Each thread releases the pages of its chunks, counted from the page
  // below the chunk's start: a data offset inside a page and more than one
  // chunk per thread give the same tree as the data at 0.
  auto p = TestParams();
  p.threads = 2;
  constexpr uint64_t kShift = 4096 + 1536, kBlocks = 1031;
  auto image = TestImage(kBlocks);
  std::vector<uint8_t> shifted(kShift + image.size(), 0xee);
  std::memcpy(shifted.data() + kShift, image.data(), image.size());
  auto fd = MemFile(shifted);
  auto hash = MemFile();
  auto tree = BuildVerityTree(fd.get(), kShift, image.size(), hash.get(), 0, p);
  ASSERT_TRUE(tree.ok()) << tree.error().str();
  EXPECT_EQ(HexEncode(tree->root_hash), BuildRoot(kBlocks, p));
  EXPECT_TRUE(
      VerifyVerityTree(fd.get(), kShift, image.size(), hash.get(), 0, p, tree->root_hash).ok());
}

TEST(BuildVerityTree, ClearErrors) {
  auto p = TestParams();
  auto data = MemFile(TestImage(4));
  auto hash = MemFile();
  auto r = BuildVerityTree(data.get(), 0, 8 * 4096, hash.get(), 0, p);  // file has 4 blocks
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("short read"), std::string::npos) << r.error().message;

  r = BuildVerityTree(data.get(), 0, 4096 + 1, hash.get(), 0, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a multiple of the data block size"), std::string::npos);

  p.algorithm = "nosuchhash";
  r = BuildVerityTree(data.get(), 0, 4096, hash.get(), 0, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown hash algorithm 'nosuchhash'"), std::string::npos);

  p = TestParams();
  p.data_block_size = 1000;
  r = BuildVerityTree(data.get(), 0, 4000, hash.get(), 0, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("power of two"), std::string::npos);

  p = TestParams();
  p.salt.assign(257, 1);
  r = BuildVerityTree(data.get(), 0, 4096, hash.get(), 0, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("salt"), std::string::npos);
}

TEST(Hex, RoundTripAndErrors) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; i++) all[i] = static_cast<uint8_t>(i);
  const std::string hex = HexEncode(all);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  auto back = HexDecode(hex);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, all);
  EXPECT_EQ(*HexDecode("ABcd"), (std::vector<uint8_t>{0xab, 0xcd}));
  EXPECT_TRUE(HexDecode("").ok());

  auto odd = HexDecode("abc");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("odd length"), std::string::npos);
  auto bad = HexDecode("a0zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'z' at position 2"), std::string::npos);
}

}  // namespace
}  // namespace initos
