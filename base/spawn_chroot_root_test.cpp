// SpawnOptions::chroot needs CAP_SYS_CHROOT.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "base/spawn.h"
#include "base/unique_fd.h"

namespace initos {
namespace {

TEST(SpawnChrootRootTest, RunsProgramInsideTheNewRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs a static /bin/busybox";
  char tmpl[] = "/tmp/spawn_chroot_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_TRUE(MakeDirs(root + "/bin").ok());
  std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox");
  ASSERT_TRUE(WriteStringToFile(root + "/where", "inside the chroot\n").ok());

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  unique_fd r(fds[0]), w(fds[1]);
  SpawnOptions o;
  // Absolute paths resolve inside the new root, and the cwd is its "/".
  o.argv = {"/bin/busybox", "sh", "-c", "/bin/busybox cat /where; /bin/busybox pwd"};
  o.chroot = root;
  o.stdout_fd = w.get();
  auto pid = Spawn(o);
  w.reset();
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  auto out = ReadFdToString(r.get());
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "inside the chroot\n/\n");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  o.chroot = root + "/missing";
  auto bad = Spawn(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("chroot"), std::string::npos) << bad.error().message;
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace initos
