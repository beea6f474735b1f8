#include "init/version_floor.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

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
  auto none = ComputeVersionFloor(5, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->minimum, 5u);
  EXPECT_EQ(none->source, "rootfs.min-version");

  auto higher = ComputeVersionFloor(5, "os 9 " + kHash + "\n");
  ASSERT_TRUE(higher.ok());
  EXPECT_EQ(higher->minimum, 9u);
  EXPECT_EQ(higher->source, "highest booted");

  auto lower = ComputeVersionFloor(5, "os 3 " + kHash + "\n");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(lower->minimum, 5u);
}

TEST(VersionFloor, GarbageRecordFailsClosed) {
  EXPECT_FALSE(ComputeVersionFloor(0, std::string("garbage")).ok());
  EXPECT_FALSE(ComputeVersionFloor(0, std::string("")).ok());
}

TEST(VersionFloor, Check) {
  EXPECT_TRUE(CheckVersionFloor(5, {5, "x"}).ok());
  EXPECT_TRUE(CheckVersionFloor(6, {5, "x"}).ok());
  auto r = CheckVersionFloor(3, {5, "highest booted"});
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
  auto f0 = ReadVersionFloor(dir_, 2);
  ASSERT_TRUE(f0.ok()) << f0.error().str();
  EXPECT_EQ(f0->minimum, 2u);

  auto w = RaiseBootedRecord(dir_, {"os", 4, kHash});
  ASSERT_TRUE(w.ok()) << w.error().str();
  EXPECT_TRUE(*w);
  auto text = ReadFileToString(dir_ + "/initos/booted-version");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "os 4 " + kHash + "\n");
  auto f1 = ReadVersionFloor(dir_, 2);
  ASSERT_TRUE(f1.ok());
  EXPECT_EQ(f1->minimum, 4u);

  // Booting an older (but still >= floor?) image never lowers the record.
  auto w2 = RaiseBootedRecord(dir_, {"os", 3, kHash});
  ASSERT_TRUE(w2.ok());
  EXPECT_FALSE(*w2);
  EXPECT_EQ(*ReadFileToString(dir_ + "/initos/booted-version"), "os 4 " + kHash + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/initos/booted-version.new"));
}

TEST_F(RecordFiles, MalformedRecordRefusesWithFix) {
  ASSERT_TRUE(MakeDirs(dir_ + "/initos").ok());
  ASSERT_TRUE(WriteStringToFile(dir_ + "/initos/booted-version", "os five\n").ok());
  auto f = ReadVersionFloor(dir_, 1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().str().find("malformed"), std::string::npos) << f.error().str();
  EXPECT_NE(f.error().str().find("Delete it"), std::string::npos) << f.error().str();
}

TEST_F(RecordFiles, UnreadableRecordFailsClosed) {
  // A directory where the file should be: not ENOENT, so not "no record".
  ASSERT_TRUE(MakeDirs(dir_ + "/initos/booted-version").ok());
  EXPECT_FALSE(ReadVersionFloor(dir_, 1).ok());
}

TEST(RecordFilesNoState, EmptyRootMeansBakedMinimum) {
  auto f = ReadVersionFloor("", 3);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->minimum, 3u);
}

}  // namespace
}  // namespace initos
