#include "format/version_floor.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "base/file.h"

namespace initos {
namespace {

const std::string kHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(BootedRecord, RoundTrip) {
  BootedRecord r{"demo-os", 42, kHash};
  auto p = ParseBootedRecord(SerializeBootedRecord(r));
  ASSERT_TRUE(p.ok()) << p.error().str();
  EXPECT_EQ(*p, r);
  EXPECT_EQ(SerializeBootedRecord(r), "demo-os 42 " + kHash + "\n");
}

TEST(BootedRecord, RejectsGarbage) {
  for (const std::string& bad : std::vector<std::string>{
           "", "\n", "demo 42 " + kHash,              // no newline
           "demo 42 " + kHash + "\n\n",               // two lines
           "demo  42 " + kHash + "\n",                // double space
           "demo 42\n", "demo 42 " + kHash + " x\n",  // field count
           "demo 042 " + kHash + "\n",                // leading zero
           "demo -1 " + kHash + "\n", "demo 4x " + kHash + "\n",
           "demo 18446744073709551616 " + kHash + "\n",  // overflow
           "demo 1 ABCDEF0123456789\n",                  // upper-case hex
           "demo 1 abc\n",                               // too short
           "de/mo 1 " + kHash + "\n", "demo\r 1 " + kHash + "\n", std::string(600, 'a') + "\n",
           std::string("demo 1 ") + '\0' + kHash + "\n"}) {
    EXPECT_FALSE(ParseBootedRecord(bad).ok()) << "accepted: " << bad;
  }
  auto max = ParseBootedRecord("demo 18446744073709551615 " + kHash + "\n");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->version, UINT64_MAX);
}

TEST(VersionFloor, MaxOfBakedAndRecord) {
  auto none = ComputeVersionFloor(5, std::nullopt, "os");
  EXPECT_EQ(none.minimum, 5u);
  EXPECT_EQ(none.source, "rootfs.min-version");
  EXPECT_EQ(none.ignored, "");

  auto higher = ComputeVersionFloor(5, "os 9 " + kHash + "\n", "os");
  EXPECT_EQ(higher.minimum, 9u);
  EXPECT_EQ(higher.source, "highest booted");
  EXPECT_EQ(higher.ignored, "");

  auto lower = ComputeVersionFloor(5, "os 3 " + kHash + "\n", "os");
  EXPECT_EQ(lower.minimum, 5u);
  EXPECT_EQ(lower.ignored, "");
}

// The record is on the unverified state partition: garbage cannot be worse
// than a deleted record, so it falls back to the baked floor, with a reason.
TEST(VersionFloor, GarbageRecordFallsBackToBakedFloor) {
  for (const std::string& text : {std::string("garbage"), std::string(""), std::string(5000, 'x'),
                                  std::string("os 99999999999999999999999 x\n")}) {
    auto f = ComputeVersionFloor(4, text, "os");
    EXPECT_EQ(f.minimum, 4u) << text;
    EXPECT_EQ(f.source, "rootfs.min-version");
    EXPECT_NE(f.ignored.find("is malformed"), std::string::npos) << f.ignored;
  }
}

// A record of another product is not ours: it neither raises nor lowers.
TEST(VersionFloor, RecordOfAnotherNameIsIgnored) {
  auto high = ComputeVersionFloor(4, "other 9 " + kHash + "\n", "os");
  EXPECT_EQ(high.minimum, 4u);
  EXPECT_EQ(high.ignored, "is for image \"other\", not \"os\"");
  auto low = ComputeVersionFloor(4, "other 1 " + kHash + "\n", "os");
  EXPECT_EQ(low.minimum, 4u);
  // And the next boot of "os" replaces it, even with a lower version.
  BootedRecord b{"os", 2, kHash};
  EXPECT_EQ(NextBootedRecord("other 9 " + kHash + "\n", b), b);
}

TEST(VersionFloor, Check) {
  EXPECT_TRUE(CheckVersionFloor(5, {5, "x", ""}).ok());
  EXPECT_TRUE(CheckVersionFloor(6, {5, "x", ""}).ok());
  auto r = CheckVersionFloor(3, {5, "highest booted", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(),
            "image version 3 is below the minimum 5 (highest booted); refusing rollback");
}

TEST(VersionFloor, NextRecordNeverLowers) {
  BootedRecord b{"os", 7, kHash};
  EXPECT_EQ(NextBootedRecord(std::nullopt, b), b);
  EXPECT_EQ(NextBootedRecord("os 6 " + kHash + "\n", b), b);
  EXPECT_EQ(NextBootedRecord("os 7 " + kHash + "\n", b), std::nullopt);
  EXPECT_EQ(NextBootedRecord("os 8 " + kHash + "\n", b), std::nullopt);
  EXPECT_EQ(NextBootedRecord(std::string("junk"), b), b);
}

class RecordFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/version_floor_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(RecordFiles, RaiseThenReadBack) {
  auto f0 = ReadVersionFloor(dir_, 2, "os");
  EXPECT_EQ(f0.minimum, 2u);
  EXPECT_EQ(f0.ignored, "");

  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  ASSERT_TRUE(w.ok()) << w.error().str();
  EXPECT_TRUE(*w);
  auto text = ReadFileToString(dir_ + "/initos/booted-version");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "os 4 " + kHash + "\n");
  auto f1 = ReadVersionFloor(dir_, 2, "os");
  EXPECT_EQ(f1.minimum, 4u);
  EXPECT_EQ(f1.ignored, "");

  // Booting an older (but still >= floor?) image never lowers the record.
  auto w2 = RaiseBootedRecord(dir_, {"os", 3, kHash});
  ASSERT_TRUE(w2.ok());
  EXPECT_FALSE(*w2);
  EXPECT_EQ(*ReadFileToString(dir_ + "/initos/booted-version"), "os 4 " + kHash + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/initos/booted-version.new"));
}

TEST_F(RecordFiles, MalformedRecordFallsBackAndSaysWhy) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos").ok());
  ASSERT_TRUE(WriteStringToFile(dir_ + "/initos/booted-version", "os five\n").ok());
  auto f = ReadVersionFloor(dir_, 1, "os");
  EXPECT_EQ(f.minimum, 1u);
  EXPECT_EQ(
      f.ignored.rfind("booted-version record " + dir_ + "/initos/booted-version is malformed", 0),
      0u)
      << f.ignored;
  EXPECT_NE(f.ignored.find("the floor is rootfs.min-version 1"), std::string::npos) << f.ignored;
}

// Each hostile thing a disk attacker can put at the record path: never
// followed, never blocks, never fatal, the baked floor applies.
TEST_F(RecordFiles, DirectoryAtRecordPath) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos/booted-version").ok());
  auto f = ReadVersionFloor(dir_, 1, "os");
  EXPECT_EQ(f.minimum, 1u);
  EXPECT_NE(f.ignored.find("is a directory; ignoring it"), std::string::npos) << f.ignored;
  // Writing skips it with a line naming the fix, and removes nothing.
  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().str().find("is a directory; not writing the record there: remove it"),
            std::string::npos)
      << w.error().str();
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/initos/booted-version"));
}

TEST_F(RecordFiles, SymlinkToAValidRecordIsNotFollowed) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos").ok());
  std::string real = dir_ + "/elsewhere";
  ASSERT_TRUE(WriteStringToFile(real, "os 9 " + kHash + "\n").ok());
  ASSERT_EQ(::symlink(real.c_str(), (dir_ + "/initos/booted-version").c_str()), 0);
  auto f = ReadVersionFloor(dir_, 2, "os");
  EXPECT_EQ(f.minimum, 2u);  // 9 would mean the link was followed
  EXPECT_NE(f.ignored.find("is a symlink"), std::string::npos) << f.ignored;
  // The write replaces the link itself; the target is untouched.
  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  ASSERT_TRUE(w.ok()) << w.error().str();
  EXPECT_TRUE(*w);
  EXPECT_FALSE(std::filesystem::is_symlink(dir_ + "/initos/booted-version"));
  EXPECT_EQ(*ReadFileToString(dir_ + "/initos/booted-version"), "os 4 " + kHash + "\n");
  EXPECT_EQ(*ReadFileToString(real), "os 9 " + kHash + "\n");
}

TEST_F(RecordFiles, SymlinkedDirectoryIsNotFollowed) {
  ASSERT_TRUE(MakeDirs(dir_ + "/real").ok());
  ASSERT_TRUE(WriteStringToFile(dir_ + "/real/booted-version", "os 9 " + kHash + "\n").ok());
  ASSERT_EQ(::symlink((dir_ + "/real").c_str(), (dir_ + "/initos").c_str()), 0);
  auto f = ReadVersionFloor(dir_, 2, "os");
  EXPECT_EQ(f.minimum, 2u);
  EXPECT_NE(f.ignored.find("is a symlink"), std::string::npos) << f.ignored;
  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(*ReadFileToString(dir_ + "/real/booted-version"), "os 9 " + kHash + "\n");
}

TEST_F(RecordFiles, FifoWithoutWriterDoesNotHang) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos").ok());
  ASSERT_EQ(::mkfifo((dir_ + "/initos/booted-version").c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  auto f = ReadVersionFloor(dir_, 2, "os");  // a blocking open would hang here forever
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(f.minimum, 2u);
  EXPECT_NE(f.ignored.find("is a FIFO"), std::string::npos) << f.ignored;
  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  ASSERT_TRUE(w.ok()) << w.error().str();
  EXPECT_EQ(*ReadFileToString(dir_ + "/initos/booted-version"), "os 4 " + kHash + "\n");
}

TEST_F(RecordFiles, EmptyAndHugeFiles) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos").ok());
  std::string path = dir_ + "/initos/booted-version";
  ASSERT_TRUE(WriteStringToFile(path, "").ok());
  auto empty = ReadVersionFloor(dir_, 2, "os");
  EXPECT_EQ(empty.minimum, 2u);
  EXPECT_NE(empty.ignored.find("is malformed"), std::string::npos) << empty.ignored;
  // 64 MiB sparse: only kMaxRecordFileRead + 1 bytes are read.
  ASSERT_EQ(::truncate(path.c_str(), 64 << 20), 0);
  RecordFile file = ReadBootedRecordFile(dir_);
  EXPECT_EQ(file.kind, RecordFile::Kind::kRegular);
  EXPECT_EQ(file.text.size(), kMaxRecordFileRead + 1);
  auto huge = ReadVersionFloor(dir_, 2, "os");
  EXPECT_EQ(huge.minimum, 2u);
  EXPECT_NE(huge.ignored.find("is malformed"), std::string::npos) << huge.ignored;
}

TEST_F(RecordFiles, PlantedTempSymlinkIsNotWrittenThrough) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos").ok());
  std::string victim = dir_ + "/victim";
  ASSERT_TRUE(WriteStringToFile(victim, "precious\n").ok());
  ASSERT_EQ(::symlink(victim.c_str(), (dir_ + "/initos/booted-version.new").c_str()), 0);
  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  ASSERT_TRUE(w.ok()) << w.error().str();
  EXPECT_EQ(*ReadFileToString(victim), "precious\n");
  EXPECT_EQ(*ReadFileToString(dir_ + "/initos/booted-version"), "os 4 " + kHash + "\n");
}

TEST(RecordFilesNoState, EmptyRootMeansBakedMinimum) {
  auto f = ReadVersionFloor("", 3, "os");
  EXPECT_EQ(f.minimum, 3u);
}

}  // namespace
}  // namespace initos
