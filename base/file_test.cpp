#include "base/file.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(FileTest, PathUnderRoot) {
  EXPECT_EQ(PathUnderRoot("/", "/proc/cmdline"), "/proc/cmdline");
  EXPECT_EQ(PathUnderRoot("", "/proc/cmdline"), "/proc/cmdline");
  EXPECT_EQ(PathUnderRoot("/tmp/t", "/proc/cmdline"), "/tmp/t/proc/cmdline");
}

}  // namespace
}  // namespace initos
