#include "os/blockdev.h"

#include <gtest/gtest.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/file.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/initos-blockdev-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- spec parsing ----

TEST(BlockSpecTest, ParsesGoodSpecs) {
  auto a = ParseBlockSpec("PARTLABEL=rootA");
  ASSERT_TRUE(a.ok()) << a.error().str();
  EXPECT_EQ(a->kind, BlockSpec::Kind::kPartLabel);
  EXPECT_EQ(a->value, "rootA");
  EXPECT_EQ(a->file, "");

  auto b = ParseBlockSpec("LABEL=boot:/images/root.bundle");
  ASSERT_TRUE(b.ok()) << b.error().str();
  EXPECT_EQ(b->kind, BlockSpec::Kind::kLabel);
  EXPECT_EQ(b->value, "boot");
  EXPECT_EQ(b->file, "/images/root.bundle");
  EXPECT_EQ(b->str(), "LABEL=boot:/images/root.bundle");

  auto c = ParseBlockSpec("LABEL=a:b");  // ':' without '/' is part of the label
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->value, "a:b");
}

TEST(BlockSpecTest, RejectsBadSpecs) {
  for (const char* bad : {"", "rootA", "UUID=1234", "PARTLABEL=", "LABEL=", "LABEL=x:", "LABEL=x:/",
                          "LABEL=x:/dir/", "LABEL=12345678901234567", "/dev/vda"}) {
    auto r = ParseBlockSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("block device"), std::string::npos);
    }
  }
}

// ---- superblock probing ----

std::string ZeroHead() {
  return std::string(kProbeSize, '\0');
}

TEST(ProbeTest, SyntheticSuperblocks) {
  EXPECT_EQ(ProbeSuperblock(ZeroHead()).type, FsType::kNone);
  EXPECT_EQ(ProbeSuperblock("short").type, FsType::kNone);

  std::string ext4 = ZeroHead();
  ext4[1024 + 56] = '\x53';
  ext4[1024 + 57] = '\xef';
  std::memcpy(&ext4[1024 + 120], "state", 5);
  auto p = ProbeSuperblock(ext4);
  EXPECT_EQ(p.type, FsType::kExt4);
  EXPECT_EQ(p.label, "state");

  std::string erofs = ZeroHead();
  const char magic[] = {'\xe2', '\xe1', '\xf5', '\xe0'};
  std::memcpy(&erofs[1024], magic, 4);
  std::memcpy(&erofs[1024 + 64], "0123456789abcdef", 16);  // full 16, no NUL
  p = ProbeSuperblock(erofs);
  EXPECT_EQ(p.type, FsType::kErofs);
  EXPECT_EQ(p.label, "0123456789abcdef");
}

bool Have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

TEST(ProbeTest, RealMkfsExt4Image) {
  if (!Have("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 not installed";
  TempDir dir;
  std::string img = dir.path() + "/ext4.img";
  std::string cmd = "truncate -s 4M " + img + " && mkfs.ext4 -q -L mystate " + img;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto p = ProbeFilesystem(img);
  ASSERT_TRUE(p.ok()) << p.error().str();
  EXPECT_EQ(p->type, FsType::kExt4);
  EXPECT_EQ(p->label, "mystate");
}

TEST(ProbeTest, RealMkfsErofsImage) {
  if (!Have("mkfs.erofs")) GTEST_SKIP() << "mkfs.erofs not installed";
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir.path() + "/src").ok());
  ASSERT_TRUE(WriteStringToFile(dir.path() + "/src/hello", "hi").ok());
  std::string img = dir.path() + "/root.img";
  // erofs-utils 1.5 has no -L: label a fresh image by writing volume_name.
  ASSERT_EQ(
      std::system(("mkfs.erofs --quiet " + img + " " + dir.path() + "/src >/dev/null").c_str()), 0);
  auto p = ProbeFilesystem(img);
  ASSERT_TRUE(p.ok()) << p.error().str();
  EXPECT_EQ(p->type, FsType::kErofs);
  EXPECT_EQ(p->label, "");
  {
    std::fstream f(img, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 + 64);
    f.write("rootfs", 6);
  }
  p = ProbeFilesystem(img);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->label, "rootfs");
}

// ---- sysfs scan against a fake tree ----

struct FakeDevice {
  std::string name;
  std::string partname;
  std::string content;  // written as the "device" node in the dev dir
};

void MakeFake(const TempDir& dir, const std::vector<FakeDevice>& devs, int minor_base = 0) {
  ASSERT_TRUE(MakeDirs(dir.path() + "/sys").ok());
  ASSERT_TRUE(MakeDirs(dir.path() + "/dev").ok());
  int minor = minor_base;
  for (const auto& d : devs) {
    std::string uevent = "MAJOR=254\nMINOR=" + std::to_string(minor++) + "\nDEVNAME=" + d.name +
                         "\nDEVTYPE=partition\n";
    if (!d.partname.empty()) uevent += "PARTN=1\nPARTNAME=" + d.partname + "\n";
    ASSERT_TRUE(MakeDirs(dir.path() + "/sys/" + d.name).ok());
    ASSERT_TRUE(WriteStringToFile(dir.path() + "/sys/" + d.name + "/uevent", uevent).ok());
    ASSERT_TRUE(WriteStringToFile(dir.path() + "/dev/" + d.name, d.content).ok());
  }
}

std::string Ext4Head(const std::string& label) {
  std::string h(4096, '\0');
  h[1024 + 56] = '\x53';
  h[1024 + 57] = '\xef';
  std::memcpy(&h[1024 + 120], label.data(), label.size());
  return h;
}

TEST(BlockScanTest, ParsesUevent) {
  auto d = ParseBlockUevent("vda2", "MAJOR=254\nMINOR=2\nDEVNAME=vda2\nPARTNAME=rootA\n");
  EXPECT_EQ(d.devname, "vda2");
  EXPECT_EQ(d.partname, "rootA");
  EXPECT_EQ(major(d.dev), 254u);
  EXPECT_EQ(minor(d.dev), 2u);
}

TEST(BlockScanTest, FindsByPartLabelAndLabel) {
  TempDir dir;
  MakeFake(dir, {{"vda", "", std::string(4096, '\0')},
                 {"vda1", "esp", std::string(4096, '\0')},
                 {"vda2", "rootA", std::string(4096, '\0')},
                 {"vda3", "state", Ext4Head("mystate")}});
  BlockScanRoots roots{dir.path() + "/sys", dir.path() + "/dev"};
  auto r = FindBlockDevice(*ParseBlockSpec("PARTLABEL=rootA"), roots);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, dir.path() + "/dev/vda2");

  r = FindBlockDevice(*ParseBlockSpec("LABEL=mystate"), roots);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, dir.path() + "/dev/vda3");

  r = FindBlockDevice(*ParseBlockSpec("PARTLABEL=rootB"), roots);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  // A partition name is not a filesystem label.
  r = FindBlockDevice(*ParseBlockSpec("LABEL=rootA"), roots);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(BlockScanTest, DuplicateLabelIsAnError) {
  TempDir dir;
  MakeFake(dir, {{"vda2", "rootA", ""}, {"vdb2", "rootA", ""}});
  auto r = FindBlockDevice(*ParseBlockSpec("PARTLABEL=rootA"),
                           {dir.path() + "/sys", dir.path() + "/dev"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("PARTLABEL=rootA"), std::string::npos);
}

TEST(BlockScanTest, WaitTimesOutWithHint) {
  TempDir dir;
  MakeFake(dir, {{"vda1", "esp", ""}});
  auto start = std::chrono::steady_clock::now();
  auto r = WaitForBlockDevice(*ParseBlockSpec("PARTLABEL=rootA"), 200,
                              {dir.path() + "/sys", dir.path() + "/dev"});
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "no block device with PARTLABEL=rootA after 0.2 s: check the disk is attached and "
            "labelled (sgdisk -c)");
  EXPECT_GE(waited, std::chrono::milliseconds(200));
}

TEST(BlockScanTest, WaitSeesDeviceThatAppearsLater) {
  TempDir dir;
  MakeFake(dir, {{"vda1", "esp", ""}});
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    MakeFake(dir, {{"vda2", "rootA", ""}}, 2);
  });
  auto r = WaitForBlockDevice(*ParseBlockSpec("PARTLABEL=rootA"), 5000,
                              {dir.path() + "/sys", dir.path() + "/dev"});
  late.join();
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, dir.path() + "/dev/vda2");
}

TEST(BlockSpecTest, PartUuid) {
  auto u = ParseBlockSpec("PARTUUID=0A0B0C0D-1111-2222-3333-444455556666");
  ASSERT_TRUE(u.ok()) << u.error().str();
  EXPECT_EQ(u->kind, BlockSpec::Kind::kPartUuid);
  EXPECT_EQ(u->value, "0a0b0c0d-1111-2222-3333-444455556666");  // blkid's case
  EXPECT_EQ(u->str(), "PARTUUID=0a0b0c0d-1111-2222-3333-444455556666");
  EXPECT_FALSE(ParseBlockSpec("PARTUUID=xyz").ok());
  EXPECT_FALSE(ParseBlockSpec("PARTUUID=").ok());
}

// A sysfs-shaped tree: class/block/vda -> devices/vda, class/block/vda2 ->
// devices/vda/vda2, and /dev/vda a real GPT image made by sgdisk.
TEST(BlockScanTest, FindsByPartUuidFromTheParentsPartitionTable) {
  if (std::system("command -v sgdisk >/dev/null 2>&1") != 0) GTEST_SKIP() << "needs sgdisk";
  TempDir dir;
  std::string devices = dir.path() + "/devices", cls = dir.path() + "/class";
  ASSERT_TRUE(MakeDirs(devices + "/vda/vda1").ok());
  ASSERT_TRUE(MakeDirs(devices + "/vda/vda2").ok());
  ASSERT_TRUE(MakeDirs(cls).ok());
  ASSERT_TRUE(MakeDirs(dir.path() + "/dev").ok());
  ASSERT_TRUE(WriteStringToFile(devices + "/vda/uevent", "MAJOR=254\nMINOR=0\nDEVNAME=vda\n").ok());
  for (int n : {1, 2}) {
    std::string name = "vda" + std::to_string(n);
    ASSERT_TRUE(WriteStringToFile(devices + "/vda/" + name + "/uevent",
                                  "MAJOR=254\nMINOR=" + std::to_string(n) + "\nDEVNAME=" + name +
                                      "\nDEVTYPE=partition\nPARTN=" + std::to_string(n) + "\n")
                    .ok());
    ASSERT_EQ(::symlink((devices + "/vda/" + name).c_str(), (cls + "/" + name).c_str()), 0);
    ASSERT_TRUE(WriteStringToFile(dir.path() + "/dev/" + name, "").ok());
  }
  ASSERT_EQ(::symlink((devices + "/vda").c_str(), (cls + "/vda").c_str()), 0);
  std::string disk = dir.path() + "/dev/vda";
  ASSERT_EQ(std::system(("truncate -s 8M " + disk + " && sgdisk -n 1:2048:+1M -n 2:4096:+1M " +
                         "-t 2:4D21B016-B534-45C2-A9FB-5C16E091FD2D " +
                         "-u 2:0A0B0C0D-1111-2222-3333-444455556666 " + disk + " >/dev/null")
                            .c_str()),
            0);
  BlockScanRoots roots{cls, dir.path() + "/dev"};
  auto spec = ParseBlockSpec("PARTUUID=0a0b0c0d-1111-2222-3333-444455556666");
  ASSERT_TRUE(spec.ok());
  auto found = FindBlockDevice(*spec, roots);
  ASSERT_TRUE(found.ok()) << found.error().str();
  ASSERT_TRUE(*found);
  EXPECT_EQ(**found, dir.path() + "/dev/vda2");
  auto entry = PartitionEntryOfPath(**found, roots);
  ASSERT_TRUE(entry.ok()) << entry.error().str();
  ASSERT_TRUE(*entry);
  EXPECT_EQ((*entry)->type, "4d21b016-b534-45c2-a9fb-5c16e091fd2d");
  auto whole = PartitionEntryOfPath(disk, roots);
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(*whole);  // a whole disk has no entry
  auto other = ParseBlockSpec("PARTUUID=0a0b0c0d-1111-2222-3333-000000000000");
  auto none = FindBlockDevice(*other, roots);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST(BlockSpecTest, Serial) {
  auto s = ParseBlockSpec("SERIAL=initos-rootfs");
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(s->kind, BlockSpec::Kind::kSerial);
  EXPECT_EQ(s->value, "initos-rootfs");
  EXPECT_EQ(s->file, "");
  EXPECT_EQ(s->str(), "SERIAL=initos-rootfs");
  for (const char* bad : {"SERIAL=", "SERIAL=a b", "SERIAL=x:/a.bundle", "SERIAL=../x",
                          "SERIAL=123456789012345678901"}) {
    auto r = ParseBlockSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("block device"), std::string::npos) << bad;
    }
  }
}

// class/block/NAME/serial as virtio-blk publishes it (newline-terminated);
// only whole disks match, never their partitions, and a disk without a
// serial file is simply not it.
TEST(BlockScanTest, FindsWholeDiskBySerial) {
  TempDir dir;
  MakeFake(dir, {{"vda", "", ""}, {"vdb", "", ""}, {"vdc", "", ""}, {"vdb1", "part", ""}});
  std::string sys = dir.path() + "/sys";
  // MakeFake marks named partitions with PARTN=1; vda, vdb and vdc are disks.
  ASSERT_TRUE(WriteStringToFile(sys + "/vda/serial", "initos-state\n").ok());
  ASSERT_TRUE(WriteStringToFile(sys + "/vdb/serial", "initos-rootfs\n").ok());
  ASSERT_TRUE(WriteStringToFile(sys + "/vdb1/serial", "initos-rootfs\n").ok());
  auto serial = ReadDiskSerial(sys, "vdb");
  ASSERT_TRUE(serial.ok()) << serial.error().str();
  EXPECT_EQ(*serial, "initos-rootfs");
  EXPECT_FALSE(ReadDiskSerial(sys, "vdc").ok());

  BlockScanRoots roots{sys, dir.path() + "/dev"};
  auto r = FindBlockDevice(*ParseBlockSpec("SERIAL=initos-rootfs"), roots);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, dir.path() + "/dev/vdb");
  r = FindBlockDevice(*ParseBlockSpec("SERIAL=initos-state"), roots);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, dir.path() + "/dev/vda");
  // A prefix of a serial is not the serial.
  r = FindBlockDevice(*ParseBlockSpec("SERIAL=initos"), roots);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());

  // Two disks with the same serial: refused, not guessed.
  ASSERT_TRUE(WriteStringToFile(sys + "/vdc/serial", "initos-rootfs").ok());
  r = FindBlockDevice(*ParseBlockSpec("SERIAL=initos-rootfs"), roots);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("SERIAL=initos-rootfs"), std::string::npos);

  auto missing = WaitForBlockDevice(*ParseBlockSpec("SERIAL=nothere"), 0, roots);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no block device with SERIAL=nothere"), std::string::npos);
  EXPECT_NE(missing.error().message.find("serial="), std::string::npos);
}

}  // namespace
}  // namespace initos
