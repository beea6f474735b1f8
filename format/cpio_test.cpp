#include "format/cpio.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "format/cpio_reader.h"

namespace initos {
namespace {

using testutil::RunProgram;
using testutil::TempDir;

// An archive with every entry type, added in a scrambled order.
CpioArchive SampleArchive(const std::string& source_file) {
  CpioArchive ar;
  EXPECT_TRUE(ar.AddFile("a/b/c/deep.txt", "deep\n", 0600).ok());
  EXPECT_TRUE(ar.AddSymlink("bin/sh", "busybox").ok());
  EXPECT_TRUE(ar.AddDevice("dev/console", CpioType::kCharDevice, 5, 1, 0600).ok());
  EXPECT_TRUE(ar.AddDevice("/dev/vda", CpioType::kBlockDevice, 254, 3, 0660).ok());
  EXPECT_TRUE(ar.AddFile("/etc/hello", "hello world\n", 0640).ok());
  EXPECT_TRUE(ar.AddDirectory("etc", 0750).ok());
  EXPECT_TRUE(ar.AddFile("empty", "", 0644).ok());
  EXPECT_TRUE(ar.AddFileFromPath("bin/busybox", source_file, 0755).ok());
  EXPECT_TRUE(ar.AddFile("a-b", "x", 0644).ok());
  return ar;
}

TEST(Cpio, ListedAndExtractedByRealCpio) {
  TempDir tmp;
  std::string big(100003, 'z');  // not a multiple of 4: exercises padding
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(WriteStringToFile(tmp / "src", big).ok());
  auto bytes = SampleArchive(tmp / "src").WriteToString();
  ASSERT_TRUE(bytes.ok()) << bytes.error().str();
  ASSERT_TRUE(WriteStringToFile(tmp / "a.cpio", *bytes).ok());

  auto list = RunProgram({"cpio", "-t", "--quiet"}, tmp.path(), tmp / "a.cpio");
  ASSERT_EQ(list.status, 0) << list.err;
  // Sorted, parents (implied ones too) before children, a subtree contiguous.
  EXPECT_EQ(list.out,
            "a\na/b\na/b/c\na/b/c/deep.txt\na-b\nbin\nbin/busybox\nbin/sh\ndev\n"
            "dev/console\ndev/vda\nempty\netc\netc/hello\n");

  ASSERT_TRUE(MakeDirs(tmp / "x").ok());
  // Device nodes are left out: creating them needs privileges unit tests lack.
  auto ex = RunProgram({"cpio", "-idm", "--quiet", "-f", "dev/*"}, tmp / "x", tmp / "a.cpio");
  ASSERT_EQ(ex.status, 0) << ex.err;
  EXPECT_EQ(*ReadFileToString(tmp / "x/etc/hello"), "hello world\n");
  EXPECT_EQ(*ReadFileToString(tmp / "x/a/b/c/deep.txt"), "deep\n");
  EXPECT_EQ(*ReadFileToString(tmp / "x/bin/busybox"), big);
  EXPECT_EQ(*ReadFileToString(tmp / "x/empty"), "");
  struct stat st;
  ASSERT_EQ(::stat((tmp / "x/etc/hello").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::stat((tmp / "x/bin/busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((tmp / "x/etc").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(::stat((tmp / "x/etc/hello").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 0);  // -m keeps the archived mtime
  char target[64] = {};
  ASSERT_GT(::readlink((tmp / "x/bin/sh").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "busybox");
}

TEST(Cpio, HeaderFieldsOfOwnOutput) {
  TempDir tmp;
  ASSERT_TRUE(WriteStringToFile(tmp / "src", "abc").ok());
  auto bytes = SampleArchive(tmp / "src").WriteToString(1700000000);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size() % 4, 0u);
  // The trailer is the last record.
  EXPECT_NE(bytes->rfind("TRAILER!!!"), std::string::npos);
  EXPECT_GT(bytes->rfind("TRAILER!!!"), bytes->size() - 16);

  auto recs = ParseNewc(*bytes);
  ASSERT_TRUE(recs.ok()) << recs.error().str();
  ASSERT_EQ(recs->size(), 14u);
  for (size_t i = 0; i < recs->size(); ++i) {
    const auto& r = (*recs)[i];
    EXPECT_EQ(r.ino, i + 1) << r.name;  // sequential inodes
    EXPECT_EQ(r.mtime, 1700000000u) << r.name;
    EXPECT_EQ(r.uid, 0u);
    EXPECT_EQ(r.gid, 0u);
    if (r.name == "dev/console") {
      EXPECT_EQ(r.mode, S_IFCHR | 0600u);
      EXPECT_EQ(r.rdev_major, 5u);
      EXPECT_EQ(r.rdev_minor, 1u);
      EXPECT_EQ(r.data, "");
    } else if (r.name == "dev/vda") {
      EXPECT_EQ(r.mode, S_IFBLK | 0660u);
      EXPECT_EQ(r.rdev_major, 254u);
      EXPECT_EQ(r.rdev_minor, 3u);
    } else if (r.name == "bin/sh") {
      EXPECT_EQ(r.mode, S_IFLNK | 0777u);
      EXPECT_EQ(r.data, "busybox");
    } else if (r.name == "bin/busybox") {
      EXPECT_EQ(r.mode, S_IFREG | 0755u);
      EXPECT_EQ(r.data, "abc");
    } else if (r.name == "a") {
      EXPECT_EQ(r.mode, S_IFDIR | 0755u);  // implied parent
    }
  }
}

TEST(Cpio, OurReaderParsesRealCpioOutput) {
  // Cross-check of the reader used above: parse what GNU cpio writes.
  TempDir tmp;
  ASSERT_TRUE(MakeDirs(tmp / "t/d").ok());
  ASSERT_TRUE(WriteStringToFile(tmp / "t/d/f", "12345").ok());
  ASSERT_TRUE(WriteStringToFile(tmp / "list", "d\nd/f\n").ok());
  auto r = RunProgram({"sh", "-c", "cpio -o -H newc --quiet < ../list > ../out.cpio"}, tmp / "t");
  ASSERT_EQ(r.status, 0) << r.err;
  auto recs = ParseNewc(*ReadFileToString(tmp / "out.cpio"));
  ASSERT_TRUE(recs.ok()) << recs.error().str();
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[1].name, "d/f");
  EXPECT_EQ((*recs)[1].data, "12345");
}

TEST(Cpio, DeterministicWhateverTheInsertionOrder) {
  CpioArchive a, b;
  ASSERT_TRUE(a.AddFile("z/1", "1").ok());
  ASSERT_TRUE(a.AddFile("y", "2").ok());
  ASSERT_TRUE(a.AddSymlink("x", "y").ok());
  ASSERT_TRUE(b.AddSymlink("x", "y").ok());
  ASSERT_TRUE(b.AddFile("y", "2").ok());
  ASSERT_TRUE(b.AddFile("z/1", "1").ok());
  EXPECT_EQ(*a.WriteToString(), *b.WriteToString());
  EXPECT_NE(*a.WriteToString(0), *a.WriteToString(1));
}

TEST(Cpio, StreamsToFd) {
  TempDir tmp;
  CpioArchive ar;
  ASSERT_TRUE(ar.AddFile("f", "data").ok());
  auto fd = OpenFile(tmp / "o", O_WRONLY | O_CREAT, 0600);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(ar.Write(FdSink(fd->get())).ok());
  EXPECT_EQ(*ReadFileToString(tmp / "o"), *ar.WriteToString());
}

TEST(Cpio, RefusesBadPaths) {
  CpioArchive ar;
  EXPECT_FALSE(ar.AddFile("../etc/passwd", "x").ok());
  EXPECT_FALSE(ar.AddFile("/", "x").ok());
  EXPECT_FALSE(ar.AddFile("", "x").ok());
  ASSERT_TRUE(ar.AddFile("f", "x").ok());
  auto dup = ar.AddFile("/f", "y");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().str().find("twice"), std::string::npos);
  auto under_file = ar.AddFile("f/g", "y");
  ASSERT_FALSE(under_file.ok());
  EXPECT_NE(under_file.error().str().find("not a directory"), std::string::npos);
  EXPECT_TRUE(ar.AddDirectory("d").ok());
  EXPECT_TRUE(ar.AddDirectory("d/").ok());  // same directory again is fine
  EXPECT_FALSE(ar.AddDevice("dev/x", CpioType::kFile, 1, 1).ok());
  EXPECT_EQ(*CleanArchivePath("//a/./b//c"), "a/b/c");
}

TEST(Cpio, MissingSourceFailsWhenWritten) {
  CpioArchive ar;
  ASSERT_TRUE(ar.AddFileFromPath("f", "/nonexistent/initos-test").ok());
  auto r = ar.WriteToString();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("/nonexistent/initos-test"), std::string::npos);
}

}  // namespace
}  // namespace initos
