#include "base/file.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(FileTest, PathUnderRoot) {
  EXPECT_EQ(PathUnderRoot("/", "/proc/cmdline"), "/proc/cmdline");
  EXPECT_EQ(PathUnderRoot("", "/proc/cmdline"), "/proc/cmdline");
  EXPECT_EQ(PathUnderRoot("/tmp/t", "/proc/cmdline"), "/tmp/t/proc/cmdline");
  EXPECT_EQ(PathUnderRoot("/tmp/t/", "/proc"), "/tmp/t/proc");
  EXPECT_EQ(PathUnderRoot("/tmp/t", "/"), "/tmp/t");
  EXPECT_EQ(PathUnderRoot("/", "/"), "/");
}

}  // namespace
}  // namespace initos
