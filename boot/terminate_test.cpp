#include "boot/terminate.h"

#include <gtest/gtest.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "base/file.h"
#include "base/log.h"

namespace initos {
namespace {

std::string g_dir;

[[noreturn]] void RecordReboot(int command) {
  (void)WriteStringToFile(g_dir + "/reboot", std::to_string(command));
  ::_exit(42);
}

// An exception escaping in a PID-1 process ends in the handler: one log
// line naming it, then the reboot command it was installed with.
TEST(Terminate, UncaughtExceptionLogsAndReboots) {
  char t[] = "/tmp/terminate_test.XXXXXX";
  g_dir = ::mkdtemp(t);
  const std::string kmsg = g_dir + "/kmsg";
  ASSERT_TRUE(WriteStringToFile(kmsg, "").ok());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SetLogTarget(LogTarget::kQueue);  // as early PID 1: nothing written yet
    static std::string path = kmsg;
    SetTerminateHooksForTest(RecordReboot, path.c_str());
    InstallPid1TerminateHandler(RB_POWER_OFF);
    // gtest would catch a plain throw: escape through noexcept instead,
    // as an exception leaving a PID-1 callback would.
    static void (*volatile stage)() = [] { throw std::runtime_error("boom in a stage"); };
    []() noexcept { stage(); }();
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 42);
  auto log = ReadFileToString(kmsg);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("<0>initos: fatal internal error (std::terminate: boom in a stage); syncing "
                      "and powering off"),
            std::string::npos)
      << *log;
  auto cmd = ReadFileToString(g_dir + "/reboot");
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(*cmd, std::to_string(RB_POWER_OFF));
  std::system(("rm -rf " + g_dir).c_str());
}

TEST(Terminate, DescribeWithoutException) {
  EXPECT_EQ(DescribeTerminate(), "std::terminate without an exception");
  try {
    throw std::logic_error("x");
  } catch (...) {
    EXPECT_EQ(DescribeTerminate(), "std::terminate: x");
  }
}

}  // namespace
}  // namespace initos
