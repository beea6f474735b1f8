// BindApiFilesystems mounts into a private mount namespace of a forked child.
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "boot/rootfs/rootfs_boot.h"

namespace initos {
namespace {

TEST(RootfsBootRoot, BindsApiFilesystemsIntoTheNewRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  char tmpl[] = "/tmp/rootfs_bind_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string target = tmpl;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
    auto r = BindApiFilesystems(target);
    if (!r.ok()) ::_exit(12);
    // The same /proc: our own pid is visible through the new root.
    std::string self = target + "/proc/" + std::to_string(::getpid()) + "/stat";
    if (::access(self.c_str(), R_OK) != 0) ::_exit(13);
    if (::access((target + "/dev/null").c_str(), F_OK) != 0) ::_exit(14);
    if (::access((target + "/sys/class").c_str(), F_OK) != 0) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Mount points were created; the mounts died with the child's namespace.
  EXPECT_TRUE(std::filesystem::is_directory(target + "/run"));
  EXPECT_TRUE(std::filesystem::is_empty(target + "/proc"));
  std::filesystem::remove_all(target);
}

}  // namespace
}  // namespace initos
