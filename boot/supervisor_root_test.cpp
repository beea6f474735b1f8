// The supervisor and shutdown with real processes, each run in a forked child
// that is a child subreaper (as PID 1 would be for every orphan).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "base/file.h"
#include "base/log.h"
#include "base/testing/test_child.h"
#include "boot/shutdown.h"
#include "boot/supervisor.h"
#include "format/config.h"

namespace initos {
namespace {

class SupervisorRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/initos-sup-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::string cmd = "rm -rf " + dir_;
      (void)!::system(cmd.c_str());
    }
  }
  std::string dir_;
};

InitConfig Sh(const std::string& script) {
  InitConfig c;
  c.main = {"/bin/sh", "-c", script};
  c.on_exit = OnExit::kPoweroff;
  c.stop_timeout_ms = 2000;
  c.signals[SIGHUP] = SignalAction::kForward;
  c.signals[SIGUSR2] = SignalAction::kPoweroff;
  return c;
}

SupervisorResult RunSupervisor(const InitConfig& c) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto fd = BlockSignalsToFd();
  if (!fd.ok()) return {ShutdownKind::kHalt, "signalfd failed", -1};
  SupervisorOptions o;
  o.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  Supervisor s(c, o, std::move(*fd));
  return s.Run();
}

// Is any child of ours a zombie? WNOWAIT leaves it for the real reaper.
bool HaveZombie() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0;
}

ShutdownOptions TestShutdown() {
  ShutdownOptions o;
  o.stop_timeout_ms = 2000;
  o.kill_all = false;
  o.unmount = false;
  o.call_reboot = false;
  return o;
}

TEST_F(SupervisorRoot, ReapsHundredsOfOrphansWhileMainRuns) {
  std::string err = RunInChild(
      [] {
        // 300 orphans ( `(true &)` exits at once and leaves `true` to us ),
        // then main lives on long enough for all of them to be reaped.
        InitConfig c =
            Sh("i=0; while [ $i -lt 300 ]; do (true &); i=$((i+1)); done; sleep 1; exit 5");
        SupervisorResult r = RunSupervisor(c);
        if (r.main_status != (5 << 8)) return "main status " + std::to_string(r.main_status);
        if (r.shutdown != ShutdownKind::kPoweroff) return std::string("not poweroff");
        if (HaveZombie()) return std::string("a zombie was left behind");
        return std::string();
      },
      60);
  EXPECT_EQ(err, "");
}

TEST_F(SupervisorRoot, MainExitFoundAmongMergedSigchlds) {
  std::string err = RunInChild(
      [] {
        // 300 orphans sleep exactly as long as main: their SIGCHLDs merge
        // with main's, and the exit must still be noticed.
        InitConfig c =
            Sh("i=0; while [ $i -lt 300 ]; do (sleep 1 &); i=$((i+1)); done; sleep 1; exit 7");
        SupervisorResult r = RunSupervisor(c);
        if (r.main_status != (7 << 8)) return "main status " + std::to_string(r.main_status);
        Shutdown(r.shutdown, r.reason, TestShutdown());
        siginfo_t info{};
        if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) != -1 || errno != ECHILD) {
          return std::string("children left after shutdown");
        }
        return std::string();
      },
      60);
  EXPECT_EQ(err, "");
}

TEST_F(SupervisorRoot, ForwardsSignalsToMain) {
  std::string f = dir_ + "/got";
  std::string err = RunInChild(
      [&] {
        // Main asks its parent (the supervisor) for SIGHUP, which is
        // configured as forward: it must come back to main.
        InitConfig c = Sh("trap 'echo hup > " + f +
                          "; exit 7' HUP; kill -HUP $PPID; while :; do sleep 0.05; done");
        SupervisorResult r = RunSupervisor(c);
        if (r.main_status != (7 << 8)) return "main status " + std::to_string(r.main_status);
        return std::string();
      },
      30);
  EXPECT_EQ(err, "");
  auto got = ReadFileToString(f);
  ASSERT_TRUE(got.ok()) << got.error().str();
  EXPECT_EQ(*got, "hup\n");
}

TEST_F(SupervisorRoot, ControlCommandRequestsShutdown) {
  for (std::string action : {"poweroff", "reboot", "halt"}) {
    std::string err = RunInChild(
        [&] {
          InitConfig c =
              Sh(std::string(INITOS_BINARY) + " " + action + " --pid $PPID; exec sleep 60");
          c.signals.clear();  // the real-time requests need no config
          SupervisorResult r = RunSupervisor(c);
          if (ShutdownKindName(r.shutdown) != action) {
            return "got " + std::string(ShutdownKindName(r.shutdown)) + " (" + r.reason + ")";
          }
          // The still running main program is stopped by SIGTERM quickly.
          double t0 = MonotonicSeconds();
          Shutdown(r.shutdown, r.reason, TestShutdown());
          if (MonotonicSeconds() - t0 > 1.5) return std::string("SIGTERM did not stop main");
          return std::string();
        },
        30);
    EXPECT_EQ(err, "") << action;
  }
}

TEST_F(SupervisorRoot, ShutdownKillsWhatIgnoresSigterm) {
  std::string err = RunInChild(
      [&] {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        auto fd = BlockSignalsToFd();
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) != 0) return std::string("pipe failed");
        pid_t pid = ::fork();
        if (pid == 0) {
          signal(SIGTERM, SIG_IGN);
          sigset_t none;
          sigemptyset(&none);
          sigprocmask(SIG_SETMASK, &none, nullptr);
          (void)!::write(ready[1], "r", 1);
          for (;;) ::pause();
        }
        ::close(ready[1]);
        // Shutdown's SIGTERM must only come once SIGTERM is ignored.
        pollfd p{ready[0], POLLIN, 0};
        char c;
        bool up = ::poll(&p, 1, 10000) == 1 && ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
        if (!up) return std::string("child did not report ready within 10 s");
        ShutdownOptions o = TestShutdown();
        o.stop_timeout_ms = 300;
        double t0 = MonotonicSeconds();
        Shutdown(ShutdownKind::kPoweroff, "test", o);
        double took = MonotonicSeconds() - t0;
        if (took < 0.25 || took > 2.5) return "shutdown took " + std::to_string(took) + " s";
        if (::kill(pid, 0) == 0 || errno != ESRCH) return std::string("process survived");
        return std::string();
      },
      30);
  EXPECT_EQ(err, "");
}

TEST_F(SupervisorRoot, RespawnsUpToTheLimit) {
  std::string f = dir_ + "/runs";
  std::string err = RunInChild(
      [&] {
        InitConfig c = Sh("echo run >> " + f);
        c.on_exit = OnExit::kRespawn;
        c.respawn_limit = 2;
        c.respawn_window_s = 60;
        c.respawn_delay_ms = 50;
        SupervisorResult r = RunSupervisor(c);
        if (r.shutdown != ShutdownKind::kPoweroff) return std::string("not poweroff");
        if (r.reason.find("respawn") == std::string::npos) return "reason: " + r.reason;
        return std::string();
      },
      30);
  EXPECT_EQ(err, "");
  auto runs = ReadFileToString(f);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(*runs, "run\nrun\nrun\n");  // the first run and two respawns
}

TEST_F(SupervisorRoot, ShellWhenAllowedElsePoweroff) {
  std::string f = dir_ + "/shell";
  std::string err = RunInChild(
      [&] {
        InitConfig c = Sh("exit 1");
        c.on_exit = OnExit::kShell;
        c.allow_shell = true;
        c.shell = {"/bin/sh", "-c", "echo shell > " + f};
        SupervisorResult r = RunSupervisor(c);
        if (r.reason != "emergency shell ended") return "reason: " + r.reason;
        return std::string();
      },
      30);
  EXPECT_EQ(err, "");
  auto shell = ReadFileToString(f);
  ASSERT_TRUE(shell.ok());
  EXPECT_EQ(*shell, "shell\n");
}

}  // namespace
}  // namespace initos
