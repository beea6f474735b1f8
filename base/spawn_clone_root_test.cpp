// SpawnOptions' clone3 options: new namespaces, a pidfd, a parent step the
// child waits for, and starting inside a cgroup (CLONE_INTO_CGROUP).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/spawn.h"
#include "base/sys/syscalls.h"
#include "base/unique_fd.h"

namespace initos {
namespace {

constexpr const char* kBusybox = "/bin/busybox";

TEST(SpawnCloneRootTest, NewPidNamespaceMakesTheChildPid1AndGivesAPidfd) {
  SpawnOptions o;
  o.argv = {kBusybox, "sh", "-c", "echo $$"};
  o.clone_flags = CLONE_NEWPID | CLONE_NEWNS;
  unique_fd pidfd;
  o.pidfd_out = &pidfd;
  auto f = SpawnAndWait(o, true);
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_TRUE(f->succeeded());
  EXPECT_EQ(f->output, "1\n");
  EXPECT_GE(pidfd.get(), 0);
}

TEST(SpawnCloneRootTest, PidfdRefersToTheChild) {
  SpawnOptions o;
  o.argv = {kBusybox, "sleep", "30"};
  o.clone_flags = CLONE_NEWUTS;
  unique_fd pidfd;
  o.pidfd_out = &pidfd;
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  ASSERT_GE(pidfd.get(), 0);
  EXPECT_EQ(sys::PidfdSendSignal(pidfd.get(), SIGKILL, nullptr, 0), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(SpawnCloneRootTest, ExecFailureIsReportedFromPid1OfANewNamespace) {
  SpawnOptions o;
  o.argv = {"/nonexistent/program"};
  o.clone_flags = CLONE_NEWPID;
  auto pid = Spawn(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, ENOENT) << pid.error().str();
}

TEST(SpawnCloneRootTest, ChildStepFailureIsReportedThroughThePipe) {
  SpawnOptions o;
  o.argv = {kBusybox, "true"};
  o.clone_flags = CLONE_NEWPID;
  o.steps.push_back({"check pid", []() -> Result<void> {
                       if (::getpid() == 1) return ErrnoErrorCode(EPERM) << "pid is 1";
                       return {};
                     }});
  auto pid = Spawn(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, EPERM);
  EXPECT_NE(pid.error().str().find("check pid for /bin/busybox: pid is 1"), std::string::npos)
      << pid.error().str();
}

// The parent step runs before the child's steps: it writes a file the
// child's step then reads (what uid_map writing needs).
TEST(SpawnCloneRootTest, ChildWaitsForTheParentStep) {
  char tmpl[] = "/tmp/spawn_clone_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string flag = std::string(tmpl) + "/flag";
  pid_t seen = 0;
  SpawnOptions o;
  o.argv = {kBusybox, "cat", flag};
  o.clone_flags = CLONE_NEWUSER;
  o.parent_step = [&](pid_t child) -> Result<void> {
    seen = child;
    ::usleep(100 * 1000);  // a child not waiting would already have run cat
    return WriteStringToFile(flag, "written by the parent\n");
  };
  auto f = SpawnAndWait(o, true);
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_GT(seen, 0);
  EXPECT_EQ(f->output, "written by the parent\n");
  ::unlink(flag.c_str());
  ::rmdir(tmpl);
}

TEST(SpawnCloneRootTest, FailingParentStepKillsTheChild) {
  char tmpl[] = "/tmp/spawn_clone_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string marker = std::string(tmpl) + "/ran";
  pid_t child_pid = 0;
  SpawnOptions o;
  o.argv = {kBusybox, "touch", marker};
  o.clone_flags = CLONE_NEWPID;
  o.parent_step = [&](pid_t child) -> Result<void> {
    child_pid = child;
    return Err() << "no map for you";
  };
  auto pid = Spawn(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().str(), "no map for you");
  // Reaped: the pid no longer names our child.
  EXPECT_EQ(::waitpid(child_pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0);
  ::rmdir(tmpl);
}

// CLONE_INTO_CGROUP: the child's /proc/self/cgroup names the cgroup at
// once. Any cgroup2 mount will do (on a hybrid host: .../unified).
TEST(SpawnCloneRootTest, StartsInsideTheGivenCgroup) {
  std::string base;
  for (const char* p : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    struct statfs s {};
    if (::statfs(p, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC) {
      base = p;
      break;
    }
  }
  ASSERT_FALSE(base.empty()) << "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified";
  std::string dir = base + "/initos-spawn-test-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << strerror(errno);
  {
    unique_fd cg(::open(dir.c_str(), O_DIRECTORY | O_CLOEXEC));
    ASSERT_GE(cg.get(), 0);
    SpawnOptions o;
    o.argv = {kBusybox, "cat", "/proc/self/cgroup"};
    o.cgroup_fd = cg.get();
    auto f = SpawnAndWait(o, true);
    ASSERT_TRUE(f.ok()) << f.error().str();
    EXPECT_NE(f->output.find("0::/initos-spawn-test-" + std::to_string(::getpid()) + "\n"),
              std::string::npos)
        << f->output;
  }
  EXPECT_EQ(::rmdir(dir.c_str()), 0) << strerror(errno);
}

}  // namespace
}  // namespace initos
