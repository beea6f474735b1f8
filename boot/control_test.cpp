#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/testing/test_util.h"

namespace {

std::string RunCmd(const std::string& cmd, int* status) {
  ::initos::testutil::ShellResult r = ::initos::testutil::Shell(cmd);
  *status = r.wait_status;
  return r.out;
}

TEST(Control, HelpDocumentsSignals) {
  int st = 0;
  std::string out = RunCmd(std::string(INITOS_BINARY) + " poweroff --help", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_NE(out.find("SIGRTMIN+4"), std::string::npos) << out;
  EXPECT_NE(out.find("SIGUSR2"), std::string::npos) << out;
}

TEST(Control, BadArgumentsFailClearly) {
  int st = 0;
  std::string out = RunCmd(std::string(INITOS_BINARY) + " reboot --bogus", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_NE(out.find("--bogus"), std::string::npos) << out;
  out = RunCmd(std::string(INITOS_BINARY) + " halt --pid abc", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
}

// Each action reaches the target as its real-time request signal.
TEST(Control, SendsRealTimeRequestSignals) {
  struct Case {
    const char* action;
    int offset;
  } cases[] = {{"poweroff", 4}, {"reboot", 5}, {"halt", 3}};
  for (const Case& c : cases) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGRTMIN + c.offset);
      sigaddset(&set, SIGRTMIN + 3);
      sigaddset(&set, SIGRTMIN + 4);
      sigaddset(&set, SIGRTMIN + 5);
      sigprocmask(SIG_BLOCK, &set, nullptr);
      (void)!::write(ready[1], "x", 1);
      int sig = ::sigwaitinfo(&set, nullptr);
      _exit(sig == SIGRTMIN + c.offset ? 0 : 1);
    }
    char x;
    ASSERT_EQ(::read(ready[0], &x, 1), 1);
    ::close(ready[0]);
    ::close(ready[1]);
    int st = 0;
    std::string out = RunCmd(
        std::string(INITOS_BINARY) + " " + c.action + " --pid " + std::to_string(child), &st);
    EXPECT_EQ(WEXITSTATUS(st), 0) << out;
    int cst = 0;
    ASSERT_EQ(::waitpid(child, &cst, 0), child);
    EXPECT_TRUE(WIFEXITED(cst) && WEXITSTATUS(cst) == 0) << c.action;
  }
}

TEST(Control, MissingTargetIsAnError) {
  pid_t gone = ::fork();
  if (gone == 0) _exit(0);
  ::waitpid(gone, nullptr, 0);
  int st = 0;
  std::string out =
      RunCmd(std::string(INITOS_BINARY) + " poweroff --pid " + std::to_string(gone), &st);
  EXPECT_EQ(WEXITSTATUS(st), 1);
  EXPECT_NE(out.find("cannot signal"), std::string::npos) << out;
}

}  // namespace
