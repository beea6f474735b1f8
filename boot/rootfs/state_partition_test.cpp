#include "boot/rootfs/state_partition.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/file.h"
#include "image/bundle.h"
#include "os/blockdev.h"

namespace initos {
namespace {

using K = StateAction::Kind;

std::string Zeros(size_t n = kStateProbeSize) {
  return std::string(n, '\0');
}

std::string With(std::string head, size_t off, std::string_view bytes) {
  head.replace(off, bytes.size(), bytes);
  return head;
}

std::string Ext4() {
  return With(Zeros(), 1024 + 56, std::string_view("\x53\xEF", 2));
}

TEST(StatePartitionTest, ExistingExt4IsMountedNeverFormatted) {
  EXPECT_EQ(DecideStateAction(Ext4(), true).kind, K::kMount);
  EXPECT_EQ(DecideStateAction(Ext4(), false).kind, K::kMount);
  // Old data after the superblock does not matter: it is a filesystem.
  EXPECT_EQ(DecideStateAction(With(Ext4(), 9000, "junk"), true).kind, K::kMount);
}

TEST(StatePartitionTest, AllZerosIsFormattedOnlyWithCreate) {
  EXPECT_EQ(DecideStateAction(Zeros(), true).kind, K::kFormat);
  StateAction a = DecideStateAction(Zeros(), false);
  EXPECT_EQ(a.kind, K::kRefuse);
  EXPECT_NE(a.reason.find("has no filesystem"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("create = true"), std::string::npos) << a.reason;
  // A device smaller than the probe area is judged by what is there.
  EXPECT_EQ(DecideStateAction(Zeros(4096), true).kind, K::kFormat);
}

TEST(StatePartitionTest, KnownSignaturesAreNamedAndRefused) {
  const struct {
    std::string head;
    std::string name;
  } cases[] = {
      {With(Zeros(), 1024, std::string_view("\xE2\xE1\xF5\xE0", 4)), "erofs"},
      {With(Zeros(), 0, std::string_view(kBundleMagic, sizeof(kBundleMagic))),
       "InitOS image bundle"},
      {With(Zeros(), 0, std::string_view("LUKS\xba\xbe\0\x02", 8)), "LUKS"},
      {With(Zeros(), 4096 - 10, "SWAPSPACE2"), "swap"},
      {With(Zeros(), 65536 - 10, "SWAPSPACE2"), "swap"},
      {With(Zeros(), 0, "hsqs"), "squashfs"},
      {With(Zeros(), 0, "XFSB"), "xfs"},
      {With(Zeros(), 512, "EFI PART"), "GPT"},
      {With(Zeros(), 510, std::string_view("\x55\xAA", 2)), "MBR"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(StateSignature(c.head).find(c.name), std::string::npos) << c.name;
    for (bool create : {true, false}) {
      StateAction a = DecideStateAction(c.head, create);
      EXPECT_EQ(a.kind, K::kRefuse) << c.name;
      EXPECT_NE(a.reason.find(c.name), std::string::npos) << a.reason;
      EXPECT_NE(a.reason.find("not formatting"), std::string::npos) << a.reason;
    }
  }
}

TEST(StatePartitionTest, AnyNonZeroByteIsRefusedEvenWithCreate) {
  for (size_t off : {size_t{0}, size_t{1023}, size_t{1500}, size_t{40000}, kStateProbeSize - 1}) {
    std::string head = With(Zeros(), off, "\x01");
    EXPECT_EQ(StateSignature(head), "") << off;
    StateAction a = DecideStateAction(head, true);
    EXPECT_EQ(a.kind, K::kRefuse) << off;
    char hex[32];
    std::snprintf(hex, sizeof(hex), "0x%zx", off);
    EXPECT_NE(a.reason.find(std::string("non-zero byte at ") + hex), std::string::npos) << a.reason;
  }
  std::string garbage(kStateProbeSize, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = char((i * 131 + 7) % 251 + 1);
  EXPECT_EQ(DecideStateAction(garbage, true).kind, K::kRefuse);
}

// A zero-filled file of `size` bytes standing in for a device.
std::string ZeroDevice(std::string* dir, off_t size) {
  *dir = ::testing::TempDir() + "/state-part-XXXXXX";
  if (::mkdtemp(dir->data()) == nullptr) return "";
  std::string dev = *dir + "/dev";
  FILE* f = std::fopen(dev.c_str(), "w");
  if (f == nullptr) return "";
  int rc = ::ftruncate(fileno(f), size);
  std::fclose(f);
  return rc == 0 ? dev : "";
}

TEST(StatePartitionTest, CreatesExt4WithTheHostMkfsAndThenMountsIt) {
  if (::access("/sbin/mke2fs", X_OK) != 0) GTEST_SKIP() << "no /sbin/mke2fs on this host";
  std::string dir, dev = ZeroDevice(&dir, 8 << 20);
  ASSERT_FALSE(dev.empty());
  StatePrepareOptions o{"PARTLABEL=state", true, {dir + "/absent", "/sbin/mke2fs"}};
  auto r = PrepareStatePartition(dev, o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(*r);
  auto probe = ProbeFilesystem(dev);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->type, FsType::kExt4);
  EXPECT_EQ(probe->label, kStateLabel);
  // The next boot finds the filesystem and formats nothing.
  auto again = PrepareStatePartition(dev, o);
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_FALSE(*again);
}

TEST(StatePartitionTest, GarbageIsLeftUntouched) {
  std::string dir, dev = ZeroDevice(&dir, 1 << 20);
  ASSERT_FALSE(dev.empty());
  ASSERT_TRUE(WriteStringToFile(dev, std::string(100000, 'x')).ok());
  StatePrepareOptions o{"PARTLABEL=state", true, {"/sbin/mke2fs"}};
  auto r = PrepareStatePartition(dev, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("not formatting it"), std::string::npos) << r.error().str();
  auto after = ReadFileToString(dev);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, std::string(100000, 'x'));
}

TEST(StatePartitionTest, MissingMkfsIsAClearError) {
  std::string dir, dev = ZeroDevice(&dir, 1 << 20);
  ASSERT_FALSE(dev.empty());
  StatePrepareOptions o{"PARTLABEL=state", true, {dir + "/no-mkfs"}};
  auto r = PrepareStatePartition(dev, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("needs mkfs.ext4 in the initramfs"), std::string::npos)
      << r.error().str();
  EXPECT_NE(r.error().str().find("--with-mkfs"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().str().find("(PARTLABEL=state)"), std::string::npos) << r.error().str();
  // Without create the same device is refused, and nothing is run.
  o.create = false;
  auto n = PrepareStatePartition(dev, o);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().str().find("has no filesystem"), std::string::npos) << n.error().str();
}

// libblkid's findings anywhere on the device beat an all-zero head.
TEST(StatePartitionTest, BlkidSignatureAnywhereIsRefusedEvenWithZeroHead) {
  StateAction a = DecideStateAction({Signature{"btrfs", 65600, false}}, Zeros(), true);
  EXPECT_EQ(a.kind, K::kRefuse);
  EXPECT_EQ(a.reason.rfind("holds btrfs at offset 65600; not formatting", 0), 0u) << a.reason;
  StateAction md =
      DecideStateAction({Signature{"linux_raid_member", 16773120, false}}, Zeros(), true);
  EXPECT_EQ(md.kind, K::kRefuse);
  EXPECT_NE(md.reason.find("linux_raid_member at offset 16773120"), std::string::npos);
  StateAction pt = DecideStateAction({Signature{"gpt", 512, true}}, Zeros(), true);
  EXPECT_EQ(pt.kind, K::kRefuse);
  EXPECT_NE(pt.reason.find("a gpt partition table at offset 512"), std::string::npos);
  // ext4 plus something else is ambiguous: neither mounted nor formatted.
  StateAction both = DecideStateAction(
      {Signature{"ext4", 1080, false}, Signature{"LVM2_member", 536, false}}, Ext4(), false);
  EXPECT_EQ(both.kind, K::kRefuse);
  EXPECT_NE(both.reason.find("LVM2_member at offset 536 besides ext4"), std::string::npos)
      << both.reason;
  // ext4 alone is mounted; nothing at all with zeros is formatted.
  EXPECT_EQ(DecideStateAction({Signature{"ext4", 1080, false}}, Ext4(), true).kind, K::kMount);
  EXPECT_EQ(DecideStateAction({}, Zeros(), true).kind, K::kFormat);
  EXPECT_EQ(DecideStateAction({}, Zeros(), false).kind, K::kRefuse);
}

TEST(StatePartitionTest, PartitionTypeMustMatchTheSignedConfig) {
  const std::string want = "4D21B016-B534-45C2-A9FB-5C16E091FD2D";
  PartitionEntry e{2, "4d21b016-b534-45c2-a9fb-5c16e091fd2d", "u", "state", "gpt"};
  EXPECT_EQ(PartitionTypeProblem(e, want), "");
  EXPECT_EQ(PartitionTypeProblem(std::nullopt, ""), "");  // not checked
  e.type = "0fc63daf-8483-4772-8e79-3d69d8477de4";
  EXPECT_EQ(PartitionTypeProblem(e, want),
            "has partition type 0fc63daf-8483-4772-8e79-3d69d8477de4 but state.partition-type is "
            "4d21b016-b534-45c2-a9fb-5c16e091fd2d; refusing it: set the type (sgdisk -t "
            "2:4d21b016-b534-45c2-a9fb-5c16e091fd2d DISK) if this really is the state partition, "
            "or point [state] device at the right one");
  EXPECT_NE(PartitionTypeProblem(std::nullopt, want).find("is not a partition"), std::string::npos);
}

// The whole path with the host's libblkid: a btrfs whose first 64 KiB are
// zeroed is refused and left byte-for-byte as it was.
TEST(StatePartitionTest, BtrfsBehindZerosIsNeverFormatted) {
  if (std::system("command -v mkfs.btrfs >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "mkfs.btrfs not installed (btrfs-progs)";
  char tmpl[] = "/tmp/state_btrfs_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string img = std::string(tmpl) + "/s.img";
  ASSERT_EQ(std::system(("truncate -s 128M " + img + " && mkfs.btrfs -q " + img +
                         " >/dev/null 2>&1 && dd if=/dev/zero of=" + img +
                         " bs=64K count=1 conv=notrunc status=none")
                            .c_str()),
            0);
  auto before = ReadFileToString(img);
  ASSERT_TRUE(before.ok());
  auto r = PrepareStatePartition(img, StatePrepareOptions{"PARTLABEL=state", true, {"/bin/true"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("holds btrfs at offset 65600; not formatting"), std::string::npos)
      << r.error().str();
  EXPECT_TRUE(*ReadFileToString(img) == *before);
  std::system(("rm -rf " + std::string(tmpl)).c_str());
}

}  // namespace
}  // namespace initos
