#include "format/stage.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "base/children.h"

namespace initos {
namespace {

TEST(StageLines, ExactFormat) {
  EXPECT_EQ(StageDoneLine("mounts", 1.5), "stage mounts done t=1.500000");
  EXPECT_EQ(StageFailedLine("config", 12.3456789, "bad key"),
            "stage config failed t=12.345679: bad key");
  EXPECT_EQ(StartingMainLine("/bin/sh", 0.25), "starting main: /bin/sh t=0.250000");
  EXPECT_TRUE(
      std::regex_match(StageDoneLine("early", 3.0), std::regex(R"(stage \w+ done t=\d+\.\d{6})")));
}

// FormatSeconds formats by integer arithmetic (no printf in PID 1): it must
// print what "%.6f" prints.
TEST(StageLines, FormatSecondsMatchesPrintf) {
  for (double t : {0.0, 0.0000004, 0.0000005, 0.999999, 0.9999996, 1.5, 1.789442, 5.927033,
                   12.3456789, 86399.123456, 1234567.000001, -0.25}) {
    char want[64];
    std::snprintf(want, sizeof want, "%.6f", t);
    EXPECT_EQ(FormatSeconds(t), want) << t;
  }
}

TEST(ParsePpidFromStat, HandlesHostileComm) {
  EXPECT_EQ(ParsePpidFromStat("42 (sh) S 7 42 42 0"), 7);
  EXPECT_EQ(ParsePpidFromStat("42 (a) b) (c) R 9 1 1"), 9);
  EXPECT_EQ(ParsePpidFromStat("42 (x"), -1);
  EXPECT_EQ(ParsePpidFromStat(""), -1);
}

TEST(DescribeStatus, ExitAndSignal) {
  EXPECT_EQ(DescribeStatus(3 << 8), "exited with status 3");
  EXPECT_EQ(DescribeStatus(9), "killed by signal 9 (SIGKILL)");
}

}  // namespace
}  // namespace initos
