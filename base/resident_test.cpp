#include "base/resident.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace initos {
namespace {

// Rss (kB) of this executable's read-only mappings, from /proc/self/smaps.
long ReadOnlyExeRssKb() {
  char exe[PATH_MAX] = {};
  if (::readlink("/proc/self/exe", exe, sizeof(exe) - 1) <= 0) return -1;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_exe_ro = false;
  long kb = 0;
  while (std::getline(smaps, line)) {
    std::istringstream f(line);
    std::string range, perms, offset, dev, inode, path;
    if (line.find('-') < line.find(' ') && (f >> range >> perms >> offset >> dev >> inode)) {
      f >> path;
      in_exe_ro = path == exe && perms.find('w') == std::string::npos;
    } else if (in_exe_ro && line.rfind("Rss:", 0) == 0) {
      kb += std::stol(line.substr(4));
    }
  }
  return kb;
}

int g_written = 0;  // .bss/.data: must keep what was written

TEST(ResidentTest, ReleasesTheBinarysReadOnlyPagesAndKeepsRunning) {
  g_written = 42;
  const long before = ReadOnlyExeRssKb();
  ASSERT_GT(before, 0) << "the test binary has no resident read-only pages to release";
  const size_t released = ReleaseStartupPages();
  const long after = ReadOnlyExeRssKb();
  EXPECT_GT(released, 0u);
  EXPECT_LT(after, before) << "Rss of the read-only mappings: " << before << " kB -> " << after;
  // Code, rodata, vtables and written data still work after the release.
  std::ostringstream s;
  s << "still " << 1 << " stream";
  EXPECT_EQ(s.str(), "still 1 stream");
  EXPECT_EQ(g_written, 42);
}

// Captured from Debian's sshd (trimmed), plus the odd lines maps can have.
constexpr char kSshdMaps[] =
    "55d1c2a00000-55d1c2a0c000 r--p 00000000 08:01 1311 /usr/sbin/sshd\n"
    "55d1c2a0c000-55d1c2a9b000 r-xp 0000c000 08:01 1311 /usr/sbin/sshd\n"
    "55d1c2adb000-55d1c2adf000 r--p 000da000 08:01 1311 /usr/sbin/sshd\n"
    "55d1c2adf000-55d1c2ae0000 rw-p 000de000 08:01 1311 /usr/sbin/sshd\n"
    "55d1c2ae0000-55d1c2ae5000 rw-p 00000000 00:00 0 \n"
    "55d1c3b6d000-55d1c3bbd000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f3768800000-7f37688a0000 r--p 00000000 00:1f 42 /run/x/lib/libcrypto.so.3\n"
    "7f37688a0000-7f3768b2c000 r-xp 000a0000 00:1f 42 /run/x/lib/libcrypto.so.3\n"
    "7f3768b2c000-7f3768bc9000 ---p 0032c000 00:1f 42 /run/x/lib/libcrypto.so.3\n"
    "7f3768bc9000-7f3768c2f000 r--p 003c9000 00:1f 42 /run/x/lib/libcrypto.so.3\n"
    "7f3768c2f000-7f3768c32000 rw-p 0042f000 00:1f 42 /run/x/lib/libcrypto.so.3\n"
    "7f3768d00000-7f3768d01000 r--s 00000000 00:05 77 /dev/zero (deleted)\n"
    "7f3768e00000-7f3768e02000 r--p 00000000 08:01 99 /tmp/a dir/lib with spaces.so\n"
    "7f37690b5000-7f37690b9000 r--p 00000000 00:00 0                          [vvar]\n"
    "7f37690b9000-7f37690bb000 r-xp 00000000 00:00 0                          [vdso]\n"
    "7ffe5dba1000-7ffe5dbc2000 rw-p 00000000 00:00 0                          [stack]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
    "garbage line\n"
    "7f37690bb000-7f37690bc000 r--p 00000000 08:01";  // cut short: no inode

TEST(ResidentTest, ReadOnlyFileMappingsKeepsPrivateNonWritableFileBackedOnes) {
  const std::vector<PageRange> want = {
      {0x55d1c2a00000, 0x55d1c2a0c000}, {0x55d1c2a0c000, 0x55d1c2a9b000},
      {0x55d1c2adb000, 0x55d1c2adf000}, {0x7f3768800000, 0x7f37688a0000},
      {0x7f37688a0000, 0x7f3768b2c000}, {0x7f3768b2c000, 0x7f3768bc9000},
      {0x7f3768bc9000, 0x7f3768c2f000}, {0x7f3768e00000, 0x7f3768e02000},
  };
  EXPECT_EQ(ReadOnlyFileMappings(kSshdMaps), want);
  EXPECT_TRUE(ReadOnlyFileMappings("").empty());
}

TEST(ResidentTest, FilePageRunsSkipsAnonymousAndAbsentPages) {
  constexpr uint64_t kFile = (uint64_t{1} << 63) | (uint64_t{1} << 61);
  constexpr uint64_t kAnon = uint64_t{1} << 63;  // present, not a file page
  constexpr uint64_t kSwapped = (uint64_t{1} << 62) | (uint64_t{1} << 61);
  const uintptr_t base = 0x10000, page = 0x1000;
  const std::vector<uint64_t> entries = {kFile | 0x1234, kFile, kAnon, 0,     kFile,
                                         kSwapped,       kFile, kFile, kFile, kAnon};
  const std::vector<PageRange> want = {{base, base + 2 * page},
                                       {base + 4 * page, base + 5 * page},
                                       {base + 6 * page, base + 9 * page}};
  EXPECT_EQ(FilePageRuns(base, page, entries), want);
  EXPECT_TRUE(FilePageRuns(base, page, {}).empty());
  EXPECT_TRUE(FilePageRuns(base, page, {kAnon, 0, kSwapped}).empty());
  EXPECT_EQ(FilePageRuns(base, page, {kFile}), (std::vector<PageRange>{{base, base + page}}));
}

}  // namespace
}  // namespace initos
