// libblkid on real images made by the host's tools: what it finds is what
// keeps state.create from formatting somebody's data.
#include "os/blkid_probe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/testing/test_util.h"

namespace initos {
namespace {

using testutil::TempDir;

bool Have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

void Sh(const std::string& cmd) {
  ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << cmd;
}

TEST(BlkidProbe, ZeroDeviceHasNoSignature) {
  TempDir dir;
  std::string img = dir / "zero.img";
  Sh("truncate -s 8M " + img);
  auto found = ProbeSignatures(img);
  ASSERT_TRUE(found.ok()) << found.error().str();
  EXPECT_TRUE(found->empty());
}

// The btrfs superblock is at 64 KiB: the old all-zero-head check alone
// would have formatted this.
TEST(BlkidProbe, BtrfsBehindZeroedHeadIsFound) {
  if (!Have("mkfs.btrfs")) GTEST_SKIP() << "mkfs.btrfs not installed (btrfs-progs)";
  TempDir dir;
  std::string img = dir / "btrfs.img";
  Sh("truncate -s 128M " + img + " && mkfs.btrfs -q " + img + " && dd if=/dev/zero of=" + img +
     " bs=64K count=1 conv=notrunc status=none");
  auto found = ProbeSignatures(img);
  ASSERT_TRUE(found.ok()) << found.error().str();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0], (Signature{"btrfs", 65600, false}));
  EXPECT_EQ(DescribeSignature((*found)[0]), "btrfs at offset 65600");
}

TEST(BlkidProbe, Ext4AndGptAreFound) {
  if (!Have("mkfs.ext4") || !Have("sgdisk")) GTEST_SKIP() << "needs mkfs.ext4 and sgdisk";
  TempDir dir;
  Sh("truncate -s 8M " + (dir / "e.img") + " && mkfs.ext4 -q " + (dir / "e.img"));
  auto ext4 = ProbeSignatures(dir / "e.img");
  ASSERT_TRUE(ext4.ok());
  ASSERT_EQ(ext4->size(), 1u);
  EXPECT_EQ((*ext4)[0].type, "ext4");
  Sh("truncate -s 8M " + (dir / "g.img") + " && sgdisk -n 1:2048:+1M " + (dir / "g.img"));
  auto gpt = ProbeSignatures(dir / "g.img");
  ASSERT_TRUE(gpt.ok());
  ASSERT_FALSE(gpt->empty());
  EXPECT_EQ((*gpt)[0], (Signature{"gpt", 512, true}));
  EXPECT_EQ(DescribeSignature((*gpt)[0]), "a gpt partition table at offset 512");
}

TEST(BlkidProbe, LuksIsFound) {
  if (!Have("cryptsetup")) GTEST_SKIP() << "cryptsetup not installed";
  TempDir dir;
  std::string img = dir / "luks.img";
  Sh("truncate -s 32M " + img + " && echo -n pw | cryptsetup luksFormat -q --type luks2 " +
     "--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - " + img);
  auto found = ProbeSignatures(img);
  ASSERT_TRUE(found.ok());
  ASSERT_FALSE(found->empty());
  EXPECT_EQ((*found)[0].type, "crypto_LUKS");
}

TEST(BlkidProbe, PartitionEntriesOfAGptDisk) {
  if (!Have("sgdisk")) GTEST_SKIP() << "sgdisk not installed";
  TempDir dir;
  std::string img = dir / "disk.img";
  Sh("truncate -s 8M " + img + " && sgdisk -n 1:2048:+1M -c 1:rootA -n 2:4096:+1M -c 2:state " +
     "-t 2:4D21B016-B534-45C2-A9FB-5C16E091FD2D -u 2:0A0B0C0D-1111-2222-3333-444455556666 " + img);
  auto entries = ReadPartitionEntries(img);
  ASSERT_TRUE(entries.ok()) << entries.error().str();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].number, 2);
  EXPECT_EQ((*entries)[1].name, "state");
  EXPECT_EQ((*entries)[1].type, "4d21b016-b534-45c2-a9fb-5c16e091fd2d");
  EXPECT_EQ((*entries)[1].uuid, "0a0b0c0d-1111-2222-3333-444455556666");
  EXPECT_EQ((*entries)[1].table, "gpt");
  Sh("truncate -s 1M " + (dir / "none.img"));
  auto none = ReadPartitionEntries(dir / "none.img");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace initos
