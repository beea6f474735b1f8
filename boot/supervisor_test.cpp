#include "boot/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace initos {
namespace {

InitConfig Config(OnExit on_exit) {
  InitConfig c;
  c.on_exit = on_exit;
  return c;
}

TEST(DecideOnMainExit, ShutdownKindsFollowOnExit) {
  EXPECT_EQ(DecideOnMainExit(Config(OnExit::kPoweroff), {}, 0).shutdown, ShutdownKind::kPoweroff);
  EXPECT_EQ(DecideOnMainExit(Config(OnExit::kReboot), {}, 0).shutdown, ShutdownKind::kReboot);
  EXPECT_EQ(DecideOnMainExit(Config(OnExit::kHalt), {}, 0).shutdown, ShutdownKind::kHalt);
  for (OnExit e : {OnExit::kPoweroff, OnExit::kReboot, OnExit::kHalt}) {
    EXPECT_EQ(DecideOnMainExit(Config(e), {}, 0).kind, NextAction::Kind::kShutdown);
  }
}

TEST(DecideOnMainExit, ShellOnlyWhenAllowed) {
  InitConfig c = Config(OnExit::kShell);
  c.allow_shell = false;
  NextAction n = DecideOnMainExit(c, {}, 0);
  EXPECT_EQ(n.kind, NextAction::Kind::kShutdown);
  EXPECT_EQ(n.shutdown, ShutdownKind::kPoweroff);
  EXPECT_NE(n.reason.find("not allowed"), std::string::npos) << n.reason;
  c.allow_shell = true;
  EXPECT_EQ(DecideOnMainExit(c, {}, 0).kind, NextAction::Kind::kShell);
  c.shell.clear();
  EXPECT_EQ(DecideOnMainExit(c, {}, 0).kind, NextAction::Kind::kShutdown);
}

TEST(DecideOnMainExit, RespawnsWithDelayUntilLimitInWindow) {
  InitConfig c = Config(OnExit::kRespawn);
  c.respawn_limit = 3;
  c.respawn_window_s = 60;
  c.respawn_delay_ms = 250;
  NextAction n = DecideOnMainExit(c, {}, 100);
  EXPECT_EQ(n.kind, NextAction::Kind::kRespawn);
  EXPECT_EQ(n.delay_ms, 250);
  EXPECT_EQ(DecideOnMainExit(c, {90, 95}, 100).kind, NextAction::Kind::kRespawn);
  // Three respawns within the last 60 s: give up, poweroff (no shell allowed).
  n = DecideOnMainExit(c, {90, 95, 99}, 100);
  EXPECT_EQ(n.kind, NextAction::Kind::kShutdown);
  EXPECT_EQ(n.shutdown, ShutdownKind::kPoweroff);
  // ...or the shell when allowed.
  c.allow_shell = true;
  EXPECT_EQ(DecideOnMainExit(c, {90, 95, 99}, 100).kind, NextAction::Kind::kShell);
  // Old respawns fall out of the window.
  EXPECT_EQ(DecideOnMainExit(c, {10, 20, 99}, 100).kind, NextAction::Kind::kRespawn);
  // A negative limit is unlimited.
  c.respawn_limit = -1;
  EXPECT_EQ(DecideOnMainExit(c, {95, 96, 97, 98, 99}, 100).kind, NextAction::Kind::kRespawn);
}

TEST(DecideOnMainExit, RespawnWithoutMainFallsBack) {
  InitConfig c = Config(OnExit::kRespawn);
  NextAction n = DecideOnMainExit(c, {}, 0, /*main_missing=*/true);
  EXPECT_EQ(n.kind, NextAction::Kind::kShutdown);
  EXPECT_NE(n.reason.find("init.main is empty"), std::string::npos) << n.reason;
}

TEST(ActionForSignal, RealTimeRequestsWinOverConfig) {
  InitConfig c;
  c.signals[SIGTERM] = SignalAction::kReboot;
  c.signals[SIGHUP] = SignalAction::kForward;
  c.signals[SIGRTMIN + 4] = SignalAction::kIgnore;  // cannot disable the request
  EXPECT_EQ(ActionForSignal(c, SIGTERM), SignalAction::kReboot);
  EXPECT_EQ(ActionForSignal(c, SIGHUP), SignalAction::kForward);
  EXPECT_EQ(ActionForSignal(c, SIGUSR1), SignalAction::kIgnore);  // not configured
  EXPECT_EQ(ActionForSignal(c, SIGRTMIN + 4), SignalAction::kPoweroff);
  EXPECT_EQ(ActionForSignal(c, SIGRTMIN + 5), SignalAction::kReboot);
  EXPECT_EQ(ActionForSignal(c, SIGRTMIN + 3), SignalAction::kHalt);
  EXPECT_EQ(PoweroffRequestSignal(), SIGRTMIN + 4);
}

TEST(HandledSignals, LeavesFaultSignalsUnblocked) {
  sigset_t s = HandledSignals();
  EXPECT_TRUE(sigismember(&s, SIGCHLD));
  EXPECT_TRUE(sigismember(&s, SIGTERM));
  EXPECT_TRUE(sigismember(&s, SIGINT));
  EXPECT_TRUE(sigismember(&s, SIGRTMIN + 4));
  EXPECT_FALSE(sigismember(&s, SIGSEGV));
  EXPECT_FALSE(sigismember(&s, SIGBUS));
}

}  // namespace
}  // namespace initos
