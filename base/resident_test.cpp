#include "base/resident.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace
}  // namespace initos
