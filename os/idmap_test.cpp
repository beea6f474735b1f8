#include "os/idmap.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(IdMapTest, MapLine) {
  EXPECT_EQ(IdMapLine({100000, 65536}), "0 100000 65536\n");
  EXPECT_EQ(IdMapLine({200000, 1}), "0 200000 1\n");
}

}  // namespace
}  // namespace initos
