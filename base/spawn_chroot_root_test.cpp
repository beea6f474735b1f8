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

// PID 1's recovery shell after a failed switch-root: the initramfs' shell
// was opened before the handover, then deleted, and "/" is now a root
// without it (the OS's). Looked up by path it is gone (or would be the
// OS's); run from the fd it is the initramfs' own.
TEST(SpawnChrootRootTest, ExecFdRunsTheDeletedFileInsideAnotherRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs a static /bin/busybox";
  char tmpl[] = "/tmp/spawn_execfd_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string base = tmpl;
  ASSERT_TRUE(MakeDirs(base + "/initramfs/bin").ok());
  ASSERT_TRUE(MakeDirs(base + "/os/bin").ok());
  std::filesystem::copy_file("/bin/busybox", base + "/initramfs/bin/sh");
  // The OS has its own /bin/sh: it must not be what runs.
  ASSERT_TRUE(WriteStringToFile(base + "/os/bin/sh", "#!/nonexistent\n", 0755).ok());
  ASSERT_TRUE(WriteStringToFile(base + "/os/where", "the os root\n").ok());
  auto fd = OpenFile(base + "/initramfs/bin/sh", O_PATH);
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  ASSERT_EQ(::unlink((base + "/initramfs/bin/sh").c_str()), 0);  // the initramfs is deleted

  auto run = [&](int exec_fd) -> std::pair<Result<pid_t>, std::string> {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    unique_fd r(fds[0]), w(fds[1]);
    SpawnOptions o;
    o.argv = {"/bin/sh", "-c", "echo shell=$0; read x < /where; echo $x"};
    o.chroot = base + "/os";
    o.exec_fd = exec_fd;
    o.stdout_fd = w.get();
    o.stderr_fd = w.get();
    auto pid = Spawn(o);
    w.reset();
    std::string out;
    if (pid.ok()) {
      auto text = ReadFdToString(r.get());
      if (text.ok()) out = *text;
      int status = 0;
      ::waitpid(*pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += "(failed)";
    }
    return {pid, out};
  };
  auto [pid, out] = run(fd->get());
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  EXPECT_EQ(out, "shell=/bin/sh\nthe os root\n");
  // By path the same argv finds the OS's file, which fails to run.
  auto [by_path, by_path_out] = run(-1);
  EXPECT_FALSE(by_path.ok()) << by_path_out;
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace initos
