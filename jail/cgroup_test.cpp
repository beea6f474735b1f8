#include "jail/cgroup.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(CgroupTest, NoLimitsNoWrites) {
  EXPECT_TRUE(CgroupLimitWrites({}).empty());
}

TEST(CgroupTest, EveryLimitInOrder) {
  JailLimits l;
  l.memory_max = 512ull << 20;
  l.memory_high = 256ull << 20;
  l.pids_max = 64;
  l.cpu_max = "50000 100000";
  l.cpu_weight = 200;
  l.io_max = {"8:0 rbps=1048576", "8:16 wiops=100"};
  std::vector<CgroupWrite> want = {{"memory.high", "268435456"},   {"memory.max", "536870912"},
                                   {"memory.swap.max", "0"},       {"pids.max", "64"},
                                   {"cpu.max", "50000 100000"},    {"cpu.weight", "200"},
                                   {"io.max", "8:0 rbps=1048576"}, {"io.max", "8:16 wiops=100"}};
  EXPECT_EQ(CgroupLimitWrites(l), want);
}

TEST(CgroupTest, ControllerOfAFile) {
  EXPECT_EQ(CgroupControllerOf("memory.max"), "memory");
  EXPECT_EQ(CgroupControllerOf("pids.max"), "pids");
  EXPECT_EQ(CgroupControllerOf("io.max"), "io");
}

}  // namespace
}  // namespace initos
