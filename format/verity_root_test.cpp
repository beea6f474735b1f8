// Cross-checks our dm-verity tree against cryptsetup's veritysetup (an
// independent implementation) and, where device-mapper is usable, the kernel.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/testing/require.h"
#include "base/testing/test_util.h"
#include "format/verity.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

struct CmdResult {
  int status = -1;
  std::string output;
};

// Test-only shell runner; stderr is folded into the output for diagnostics.
CmdResult Shell(const std::string& cmd) {
  testutil::ShellResult s = testutil::Shell(cmd);
  return {s.code, s.out};
}

// "Root hash:      \t<hex>" from veritysetup format's report.
std::string ParseRootHash(const std::string& out) {
  const auto pos = out.find("Root hash:");
  if (pos == std::string::npos) return "";
  auto start = out.find_first_not_of(" \t", pos + 10);
  auto end = out.find_first_of(" \t\n", start);
  return out.substr(start, end - start);
}

std::vector<uint8_t> RandomBytes(size_t n) {
  std::vector<uint8_t> out(n);
  size_t done = 0;
  while (done < n) {
    ssize_t got = getrandom(out.data() + done, n - done, 0);
    if (got > 0) done += static_cast<size_t>(got);
  }
  return out;
}

std::string ReadAll(const std::string& path) {
  auto s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << path;
  return s.ok() ? *s : "";
}

void FlipByte(const std::string& path, uint64_t offset) {
  unique_fd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.ok());
  uint8_t b = 0;
  ASSERT_EQ(pread(fd.get(), &b, 1, offset), 1);
  b ^= 0x01;
  ASSERT_EQ(pwrite(fd.get(), &b, 1, offset), 1);
}

// Read-only loop devices, detached again at scope exit.
struct Loops {
  std::vector<std::string> devs;
  ~Loops() {
    for (auto& d : devs) Shell("losetup -d " + d);
  }
  std::string Attach(const std::string& file) {
    auto r = Shell("losetup --find --show --read-only " + file);
    if (r.status != 0) return "";
    std::string dev = r.output.substr(0, r.output.find('\n'));
    devs.push_back(dev);
    return dev;
  }
};

constexpr char kUuid[] = "2f9b4a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
constexpr std::array<uint8_t, 16> kUuidBytes = {0x2f, 0x9b, 0x4a, 0x7e, 0x1c, 0x3d, 0x4e, 0x5f,
                                                0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b};

class VerityRootTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (Shell("veritysetup --version").status != 0) GTEST_SKIP() << "veritysetup not installed";
    char tmpl[] = "/var/tmp/verity_root_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    size_ = GetParam();
    params_.salt = RandomBytes(32);
    params_.uuid = kUuidBytes;
    data_ = dir_ + "/data";
    auto content = RandomBytes(size_);
    ASSERT_TRUE(WriteStringToFile(data_, std::string(content.begin(), content.end())).ok());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Our tree for data_ into `hash` at hash_offset; returns the root in hex.
  std::string BuildOurs(const std::string& hash, uint64_t hash_offset) {
    auto data = OpenFile(data_, O_RDONLY);
    auto out = OpenFile(hash, O_RDWR | O_CREAT, 0644);
    EXPECT_TRUE(data.ok() && out.ok());
    if (!data.ok() || !out.ok()) return "";
    auto tree = BuildVerityTree(data->get(), 0, size_, out->get(), hash_offset, params_);
    EXPECT_TRUE(tree.ok()) << tree.error().str();
    return tree.ok() ? HexEncode(tree->root_hash) : "";
  }

  std::string VeritysetupFormat(const std::string& data, const std::string& hash,
                                const std::string& extra = "") {
    auto r = Shell("veritysetup format " + data + " " + hash +
                   " --salt=" + HexEncode(params_.salt) + " --uuid=" + kUuid + " " + extra);
    EXPECT_EQ(r.status, 0) << r.output;
    return ParseRootHash(r.output);
  }

  std::string dir_, data_;
  uint64_t size_ = 0;
  VerityParams params_;
};

TEST_P(VerityRootTest, SeparateHashFileIsByteIdentical) {
  const std::string ours = BuildOurs(dir_ + "/ours.hash", 0);
  const std::string theirs = VeritysetupFormat(data_, dir_ + "/theirs.hash");
  ASSERT_FALSE(theirs.empty());
  EXPECT_EQ(ours, theirs);
  const std::string a = ReadAll(dir_ + "/ours.hash"), b = ReadAll(dir_ + "/theirs.hash");
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "hash areas differ";
  EXPECT_EQ(a.size(), VerityTreeSize(size_, params_).value());
}

TEST_P(VerityRootTest, SameFileWithHashOffsetIsByteIdentical) {
  // The bundle layout: data first, superblock + tree right after it.
  const std::string mine = dir_ + "/mine", theirs = dir_ + "/theirs";
  fs::copy_file(data_, mine);
  fs::copy_file(data_, theirs);
  data_ = mine;  // BuildOurs reads data_; it is identical to theirs
  const std::string our_root = BuildOurs(mine, size_);
  const std::string their_root = VeritysetupFormat(
      theirs, theirs,
      "--hash-offset=" + std::to_string(size_) + " --data-blocks=" + std::to_string(size_ / 4096));
  EXPECT_EQ(our_root, their_root);
  EXPECT_TRUE(ReadAll(mine) == ReadAll(theirs)) << "files differ";
}

TEST_P(VerityRootTest, VeritysetupVerifyAcceptsOurTree) {
  const std::string hash = dir_ + "/ours.hash";
  const std::string root = BuildOurs(hash, 0);
  auto r = Shell("veritysetup verify " + data_ + " " + hash + " " + root);
  EXPECT_EQ(r.status, 0) << r.output;
  // And it must be able to fail: a changed hash block is rejected.
  FlipByte(hash, 4096 + 17);
  r = Shell("veritysetup verify " + data_ + " " + hash + " " + root);
  EXPECT_NE(r.status, 0) << r.output;
}

TEST_P(VerityRootTest, WeAcceptVeritysetupTreeAndCatchDamage) {
  const std::string hash = dir_ + "/theirs.hash";
  const std::string root_hex = VeritysetupFormat(data_, hash);
  auto root = HexDecode(root_hex);
  ASSERT_TRUE(root.ok()) << root_hex;
  auto verify = [&]() -> Result<void> {
    auto data = OpenFile(data_, O_RDONLY);
    auto h = OpenFile(hash, O_RDONLY);
    if (!data.ok()) return data.error();
    if (!h.ok()) return h.error();
    return VerifyVerityTree(data->get(), 0, size_, h->get(), 0, params_, *root);
  };
  auto r = verify();
  EXPECT_TRUE(r.ok()) << r.error().str();
  const uint64_t block = size_ / 4096 - 2;
  FlipByte(data_, block * 4096 + 99);
  r = verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("data block " + std::to_string(block)), std::string::npos)
      << r.error().message;
}

// A block device is read with pread, not mapped (os/ builds trees on
// partitions): same bytes as veritysetup's tree of the same data.
TEST_P(VerityRootTest, BlockDeviceDataIsByteIdentical) {
  Loops loops;
  const std::string dev = loops.Attach(data_);
  if (dev.empty()) INITOS_KERNEL_FEATURE_MISSING() << "no loop devices";
  const std::string file = data_;
  data_ = dev;
  const std::string ours = BuildOurs(dir_ + "/ours.hash", 0);
  data_ = file;
  const std::string theirs = VeritysetupFormat(data_, dir_ + "/theirs.hash");
  ASSERT_FALSE(theirs.empty());
  EXPECT_EQ(ours, theirs);
  EXPECT_TRUE(ReadAll(dir_ + "/ours.hash") == ReadAll(dir_ + "/theirs.hash"))
      << "hash areas differ";
}

// dm-verity in the running kernel: our tree must be accepted by the real
// consumer, and a changed data block must read as EIO.
TEST_P(VerityRootTest, KernelDmVerityReadsOurTree) {
  Shell("modprobe dm-verity");
  if (Shell("dmsetup version").status != 0)
    INITOS_KERNEL_FEATURE_MISSING() << "device-mapper not usable on this kernel";
  const std::string hash = dir_ + "/ours.hash";
  const std::string root = BuildOurs(hash, 0);
  const std::string name = "initos-verity-test-" + std::to_string(getpid());

  struct Mapping {
    std::string name;
    bool open = false;
    ~Mapping() {
      if (open) Shell("veritysetup close " + name);
    }
  };

  auto read_device = [&](const std::string& dev, uint64_t offset, uint64_t len) -> int {
    // O_DIRECT: the answer must come from dm-verity, not a cached page.
    unique_fd fd(open(dev.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
    if (!fd.ok()) return errno;
    void* buf = nullptr;
    if (posix_memalign(&buf, 4096, 1 << 20) != 0) return ENOMEM;
    int err = 0;
    for (uint64_t done = 0; done < len && err == 0;) {
      ssize_t n = pread(fd.get(), buf, std::min<uint64_t>(1 << 20, len - done), offset + done);
      if (n < 0) err = errno;
      if (n == 0) err = ENODATA;
      if (n > 0) done += static_cast<uint64_t>(n);
    }
    free(buf);
    return err;
  };

  {
    Loops loops;
    const std::string data_dev = loops.Attach(data_), hash_dev = loops.Attach(hash);
    if (data_dev.empty() || hash_dev.empty()) INITOS_KERNEL_FEATURE_MISSING() << "no loop devices";
    Mapping m{name};
    auto r = Shell("veritysetup open " + data_dev + " " + name + " " + hash_dev + " " + root);
    if (r.status != 0)
      INITOS_KERNEL_FEATURE_MISSING()
          << "veritysetup open failed (dm-verity missing?): " << r.output;
    m.open = true;
    EXPECT_EQ(read_device("/dev/mapper/" + name, 0, size_), 0);
  }
  const uint64_t block = size_ / 4096 / 2;
  FlipByte(data_, block * 4096 + 1234);
  {
    Loops loops;
    const std::string data_dev = loops.Attach(data_), hash_dev = loops.Attach(hash);
    ASSERT_FALSE(data_dev.empty() || hash_dev.empty());
    Mapping m{name};
    auto r = Shell("veritysetup open " + data_dev + " " + name + " " + hash_dev + " " + root);
    ASSERT_EQ(r.status, 0) << r.output;
    m.open = true;
    const std::string dev = "/dev/mapper/" + name;
    EXPECT_EQ(read_device(dev, block * 4096, 4096), EIO);
    EXPECT_EQ(read_device(dev, 0, 4096), 0);  // other blocks still read
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, VerityRootTest,
                         ::testing::Values(uint64_t{8} << 20, (uint64_t{8} << 20) + 3 * 4096),
                         [](const auto& info) {
                           return std::to_string(info.param / 4096) + "blocks";
                         });

}  // namespace
}  // namespace initos
