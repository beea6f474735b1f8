// `--with-mkfs` (or a config with state.create = true): the initramfs
// carries mke2fs, the mkfs.ext4 name for it, its libraries and its config.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "format/cpio_reader.h"
#include "image/initramfs.h"
#include "sidecar/sidecar_files.h"

namespace initos {
namespace {

using testutil::TempDir;

std::map<std::string, CpioRecord> Entries(const InitramfsSpec& spec) {
  std::map<std::string, CpioRecord> e;
  auto ar = AssembleInitramfs(spec);
  EXPECT_TRUE(ar.ok()) << ar.error().str();
  if (!ar.ok()) return e;
  auto bytes = ar->WriteToString();
  EXPECT_TRUE(bytes.ok());
  auto recs = ParseNewc(*bytes);
  EXPECT_TRUE(recs.ok());
  for (auto& r : *recs) e[r.name] = r;
  return e;
}

void ExpectMkfs(std::map<std::string, CpioRecord>& e) {
  ASSERT_TRUE(e.count("sbin/mke2fs"));
  EXPECT_EQ(e["sbin/mke2fs"].data, *ReadFileToString("/sbin/mke2fs"));
  EXPECT_EQ(e["sbin/mke2fs"].mode & 0111, 0111u);
  EXPECT_TRUE(S_ISLNK(e["sbin/mkfs.ext4"].mode));
  EXPECT_EQ(e["sbin/mkfs.ext4"].data, "mke2fs");
  auto libs = SharedLibraries("/sbin/mke2fs");
  ASSERT_TRUE(libs.ok());
  ASSERT_FALSE(libs->empty());
  for (const auto& l : *libs) {
    ASSERT_TRUE(e.count(l.substr(1))) << l;
    EXPECT_EQ(e[l.substr(1)].data, *ReadFileToString(l)) << l;
  }
  if (::access("/etc/mke2fs.conf", R_OK) == 0) {
    EXPECT_EQ(e["etc/mke2fs.conf"].data, *ReadFileToString("/etc/mke2fs.conf"));
  }
}

TEST(InitramfsMkfs, WithMkfsCarriesMke2fsAndLibraries) {
  if (::access("/sbin/mke2fs", X_OK) != 0) GTEST_SKIP() << "e2fsprogs not installed";
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.with_mkfs = true;
  auto e = Entries(spec);
  ExpectMkfs(e);
}

TEST(InitramfsMkfs, ConfigWithStateCreateAddsItAutomatically) {
  if (::access("/sbin/mke2fs", X_OK) != 0) GTEST_SKIP() << "e2fsprogs not installed";
  TempDir tmp;
  ASSERT_TRUE(WriteStringToFile(tmp / "create.toml",
                                "[state]\ndevice = \"PARTLABEL=state\"\ncreate = "
                                "true\npartition-type = \"4d21b016-b534-45c2-a9fb-5c16e091fd2d\"\n")
                  .ok());
  ASSERT_TRUE(
      WriteStringToFile(tmp / "plain.toml", "[state]\ndevice = \"PARTLABEL=state\"\n").ok());
  EXPECT_TRUE(*ConfigWantsMkfs(tmp / "create.toml"));
  EXPECT_FALSE(*ConfigWantsMkfs(tmp / "plain.toml"));
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.config_path = tmp / "create.toml";
  auto e = Entries(spec);
  ExpectMkfs(e);
  spec.config_path = tmp / "plain.toml";
  auto plain = Entries(spec);
  EXPECT_EQ(plain.count("sbin/mke2fs"), 0u);
  EXPECT_EQ(plain.count("sbin/mkfs.ext4"), 0u);
}

TEST(InitramfsMkfs, WithSshdAndMkfsShareLibraries) {
  if (::access("/sbin/mke2fs", X_OK) != 0 || ::access("/usr/sbin/sshd", X_OK) != 0 ||
      ::access("/bin/busybox", X_OK) != 0)
    GTEST_SKIP() << "e2fsprogs, openssh-server or busybox-static not installed";
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.with_sshd = spec.with_mkfs = true;
  auto e = Entries(spec);
  ExpectMkfs(e);
  EXPECT_TRUE(e.count("usr/sbin/sshd"));
}

TEST(InitramfsMkfs, MissingMke2fsNamesThePackage) {
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.with_mkfs = true;
  spec.mkfs_path = "/nonexistent/mke2fs";
  auto ar = AssembleInitramfs(spec);
  ASSERT_FALSE(ar.ok());
  EXPECT_NE(ar.error().str().find("--with-mkfs"), std::string::npos) << ar.error().str();
  EXPECT_NE(ar.error().str().find("e2fsprogs"), std::string::npos) << ar.error().str();
}

}  // namespace
}  // namespace initos
