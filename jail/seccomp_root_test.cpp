// Installs the compiled default policy for real in a forked child: the
// evaluator's verdicts must be what the kernel does.
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/testing/test_child.h"
#include "jail/seccomp_policy.h"

namespace initos {
namespace {

std::string ExpectEperm(const char* what, long rc) {
  if (rc == -1 && errno == EPERM) return "";
  return std::string(what) + " returned " + std::to_string(rc) + " errno " + std::to_string(errno) +
         ", expected -1 EPERM";
}

TEST(SeccompRoot, DefaultPolicyDeniesForReal) {
  auto program = CompileSeccomp(DefaultSeccompPolicy());
  ASSERT_TRUE(program.ok()) << program.error().str();
  std::string r = RunInChild(
      [&]() -> std::string {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "no_new_privs failed";
        auto installed = InstallSeccomp(*program);
        if (!installed.ok()) return installed.error().str();
        // As root these would succeed or fail with other errnos unfiltered.
        std::string e = ExpectEperm("keyctl", ::syscall(SYS_keyctl, 0 /*GET_KEYRING_ID*/, -3, 0));
        if (e.empty()) e = ExpectEperm("bpf", ::syscall(SYS_bpf, 0, nullptr, 0));
        if (e.empty()) {
          e = ExpectEperm("perf_event_open", ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0));
        }
        if (e.empty()) e = ExpectEperm("ioctl TIOCSTI", ::syscall(SYS_ioctl, 0, 0x5412, "x"));
        if (e.empty()) e = ExpectEperm("personality", ::syscall(SYS_personality, 0x0040000));
        if (e.empty()) e = ExpectEperm("fsopen", ::syscall(SYS_fsopen, "tmpfs", 0));
        if (!e.empty()) return e;
        if (::getpid() <= 0) return "getpid failed under the filter";
        if (::syscall(SYS_personality, 0xffffffff) < 0) return "personality query denied";
        return "";
      },
      10);
  EXPECT_EQ(r, "");
}

}  // namespace
}  // namespace initos
