// initos-reap is `initos reap` alone: the same behaviour from a binary that
// carries only the reaper.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "base/testing/test_util.h"

namespace initos {
namespace {

using testutil::Shell;

TEST(ReapBinaryTest, RunsTheChildAndExitsWithItsCode) {
  auto r = Shell(std::string(INITOS_REAP_BINARY) + " -s -- /bin/sh -c 'echo ran; exit 7'");
  EXPECT_EQ(r.code, 7) << r.out;
  EXPECT_NE(r.out.find("ran"), std::string::npos) << r.out;
}

TEST(ReapBinaryTest, ChildKilledBySignalGivesTinisCode) {
  // tini exits 128 + the signal that killed the child.
  auto r = Shell(std::string(INITOS_REAP_BINARY) + " -s -- /bin/sh -c 'kill -TERM $$'");
  EXPECT_EQ(r.code, 128 + 15) << r.out;
}

TEST(ReapBinaryTest, VersionMatchesInitosReap) {
  auto small = Shell(std::string(INITOS_REAP_BINARY) + " --version");
  auto full = Shell(std::string(INITOS_BINARY) + " reap --version");
  EXPECT_EQ(small.code, 0) << small.out;
  EXPECT_EQ(small.out, full.out);
  EXPECT_NE(small.out.find("tini version"), std::string::npos) << small.out;
}

TEST(ReapBinaryTest, IsAFractionOfTheFullBinary) {
  // The point of the second binary: the reaper without the image tools,
  // OpenSSL, zstd, ... (8.7 MB -> 1.7 MB when this was written).
  struct stat small {
  }, full{};
  ASSERT_EQ(::stat(INITOS_REAP_BINARY, &small), 0);
  ASSERT_EQ(::stat(INITOS_BINARY, &full), 0);
  EXPECT_LT(small.st_size * 3, full.st_size)
      << "initos-reap " << small.st_size << " bytes, initos " << full.st_size;
}

}  // namespace
}  // namespace initos
