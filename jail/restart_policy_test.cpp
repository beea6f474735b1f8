#include "jail/restart_policy.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace initos {
namespace {

constexpr int kExit0 = 0;
constexpr int kExit3 = 3 << 8;
constexpr int kKilled = SIGKILL;

JailConfig Jail(RestartPolicy p) {
  JailConfig j;
  j.name = "web";
  j.restart = p;
  j.restart_delay_ms = 100;
  j.restart_max_delay_ms = 1000;
  j.restart_limit = 3;
  j.restart_window_s = 60;
  return j;
}

TEST(JailRestartPolicyTest, EachPolicy) {
  EXPECT_FALSE(DecideJailRestart(Jail(RestartPolicy::kNever), kExit3, {}, 0, false).restart);
  EXPECT_FALSE(DecideJailRestart(Jail(RestartPolicy::kOnFailure), kExit0, {}, 0, false).restart);
  EXPECT_TRUE(DecideJailRestart(Jail(RestartPolicy::kOnFailure), kExit3, {}, 0, false).restart);
  EXPECT_TRUE(DecideJailRestart(Jail(RestartPolicy::kOnFailure), kKilled, {}, 0, false).restart);
  EXPECT_TRUE(DecideJailRestart(Jail(RestartPolicy::kAlways), kExit0, {}, 0, false).restart);
}

TEST(JailRestartPolicyTest, AStoppedJailIsNeverRestarted) {
  auto d = DecideJailRestart(Jail(RestartPolicy::kAlways), kKilled, {}, 0, true);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.reason, "killed by SIGKILL (stopped)");
}

TEST(JailRestartPolicyTest, BackoffDoublesUpToTheCapAndTheLimitHolds) {
  JailConfig j = Jail(RestartPolicy::kAlways);
  j.restart_limit = 10;
  EXPECT_EQ(DecideJailRestart(j, kExit3, {}, 100, false).delay_ms, 100);
  EXPECT_EQ(DecideJailRestart(j, kExit3, {99}, 100, false).delay_ms, 200);
  EXPECT_EQ(DecideJailRestart(j, kExit3, {98, 99}, 100, false).delay_ms, 400);
  EXPECT_EQ(DecideJailRestart(j, kExit3, {1, 2, 3, 4, 5, 6}, 10, false).delay_ms, 1000);
  // Restarts older than the window do not count.
  EXPECT_EQ(DecideJailRestart(j, kExit3, {1, 2, 3}, 100, false).delay_ms, 100);
  j.restart_limit = 3;
  auto d = DecideJailRestart(j, kExit3, {97, 98, 99}, 100, false);
  EXPECT_FALSE(d.restart);
  EXPECT_NE(d.reason.find("restart-limit"), std::string::npos);
  EXPECT_NE(d.reason.find("initos jail start web"), std::string::npos);
}

}  // namespace
}  // namespace initos
