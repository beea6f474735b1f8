// Root-only: the bundle layout against the real tools: `veritysetup verify`
// with the hash_offset that `initos image info` reports, and the data window
// mounted as EROFS with the tarball's owners intact.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/file.h"
#include "base/testing/require.h"
#include "base/testing/test_util.h"
#include "image/bundle.h"
#include "image/erofs.h"

namespace initos {
namespace {

std::string Capture(const std::string& cmd, int* rc) {
  testutil::ShellResult r = testutil::Shell(cmd);
  *rc = r.code;
  return r.out;
}

// The number after `"key": ` in initos' JSON output.
uint64_t JsonNumber(const std::string& json, const std::string& key) {
  size_t pos = json.find("\"" + key + "\": ");
  EXPECT_NE(pos, std::string::npos) << key;
  return pos == std::string::npos ? 0 : std::stoull(json.substr(pos + key.size() + 4));
}

std::string JsonString(const std::string& json, const std::string& key) {
  size_t pos = json.find("\"" + key + "\": \"");
  EXPECT_NE(pos, std::string::npos) << key;
  if (pos == std::string::npos) return "";
  pos += key.size() + 5;
  return json.substr(pos, json.find('"', pos) - pos);
}

class BundleRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (FindInPath("mkfs.erofs").empty() || FindInPath("veritysetup").empty() ||
        FindInPath("losetup").empty()) {
      GTEST_SKIP() << "needs mkfs.erofs, veritysetup and losetup";
    }
    char tmpl[] = "/tmp/initos-bundle-root.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!loop_.empty()) {
      int rc;
      Capture("losetup -d " + loop_, &rc);
    }
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }
  std::string dir_, loop_;
};

TEST_F(BundleRootTest, VeritysetupAcceptsLayoutAndErofsKeepsOwners) {
  std::string root = dir_ + "/root";
  ASSERT_TRUE(MakeDirs(root + "/etc").ok());
  ASSERT_TRUE(WriteStringToFile(root + "/etc/motd", "signed\n", 0640).ok());
  ASSERT_EQ(::chown((root + "/etc/motd").c_str(), 1234, 5678), 0);
  std::string blob;
  for (int i = 0; i < 2000; ++i) blob += std::to_string(i * 7919) + "\n";
  ASSERT_TRUE(WriteStringToFile(root + "/blob", blob).ok());
  int rc = 0;
  Capture("tar -C " + root + " -cf " + dir_ + "/root.tar .", &rc);
  ASSERT_EQ(rc, 0);

  std::string b = dir_ + "/os.bundle";
  std::string out = Capture(std::string(INITOS_BINARY) + " image keygen -o " + dir_ + "/k", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = Capture(std::string(INITOS_BINARY) + " image build --rootfs " + dir_ + "/root.tar --key " +
                    dir_ + "/k/signing.key --name root --version 1 -o " + b,
                &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string json = Capture(std::string(INITOS_BINARY) + " image info --json " + b, &rc);
  ASSERT_EQ(rc, 0) << json;

  uint64_t data_offset = JsonNumber(json, "data_offset");
  uint64_t data_size = JsonNumber(json, "data_size");
  uint64_t data_blocks = JsonNumber(json, "data_blocks");
  uint64_t hash_offset = JsonNumber(json, "hash_offset");
  std::string root_hash = JsonString(json, "root_hash");

  // The data region seen through a read-only loop window, as at boot.
  loop_ = Capture("losetup -r -f --show -o " + std::to_string(data_offset) + " --sizelimit " +
                      std::to_string(data_size) + " " + b,
                  &rc);
  ASSERT_EQ(rc, 0) << loop_;
  loop_.erase(loop_.find_last_not_of("\n") + 1);

  std::string vs = "veritysetup verify --hash-offset=" + std::to_string(hash_offset) +
                   " --data-blocks=" + std::to_string(data_blocks) + " " + loop_ + " " + b + " ";
  out = Capture(vs + root_hash, &rc);
  EXPECT_EQ(rc, 0) << out;
  // And the check can fail: a different root hash is refused.
  std::string wrong = root_hash;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  Capture(vs + wrong, &rc);
  EXPECT_NE(rc, 0);

  std::string mnt = dir_ + "/mnt";
  ASSERT_TRUE(MakeDirs(mnt).ok());
  if (::mount(loop_.c_str(), mnt.c_str(), "erofs", MS_RDONLY, nullptr) != 0) {
    INITOS_KERNEL_FEATURE_MISSING() << "cannot mount erofs here: " << std::strerror(errno);
  }
  struct stat st;
  bool stat_ok = ::stat((mnt + "/etc/motd").c_str(), &st) == 0;
  auto motd = ReadFileToString(mnt + "/etc/motd");
  auto blob_read = ReadFileToString(mnt + "/blob");
  ::umount2(mnt.c_str(), MNT_DETACH);
  ASSERT_TRUE(stat_ok);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_TRUE(motd.ok());
  EXPECT_EQ(*motd, "signed\n");
  ASSERT_TRUE(blob_read.ok());
  EXPECT_EQ(*blob_read, blob);
}

}  // namespace
}  // namespace initos
