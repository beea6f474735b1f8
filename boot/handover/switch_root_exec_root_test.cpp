// Runs the real switch-root executor in a forked child inside its own mount
// namespace, against a tmpfs "initramfs" with API mounts and a tmpfs OS root,
// and checks from inside the new root what moved and what was deleted.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/file.h"
#include "boot/handover/switch_root.h"
#include "gtest/gtest.h"

namespace initos {
namespace {

bool Exists(int dirfd, const std::string& rel) {
  struct stat st;
  return ::fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// Everything below runs in the child; returns the list of problems found.
std::string RunHandoverInChild(const std::string& base) {
  std::string problems;
  auto fail = [&](const std::string& what) { problems += what + "\n"; };
  auto mkdirs = [&](const std::string& p) {
    if (!MakeDirs(p).ok()) fail("mkdir " + p);
  };
  auto mount_tmpfs = [&](const std::string& p) {
    mkdirs(p);
    if (::mount("tmpfs", p.c_str(), "tmpfs", 0, "mode=0755") != 0) fail("mount tmpfs " + p);
  };
  auto write = [&](const std::string& p, const std::string& data, mode_t mode = 0644) {
    if (!WriteStringToFile(p, data, mode).ok()) fail("write " + p);
  };

  if (::unshare(CLONE_NEWNS) != 0) return "unshare failed\n";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "rprivate\n";

  const std::string root = base + "/root";
  mount_tmpfs(root);  // the initramfs
  write(root + "/init", "binary", 0755);
  mkdirs(root + "/usr/bin");
  write(root + "/usr/bin/tool", "x");
  mkdirs(root + "/etc/initos/sidecar");
  write(root + "/etc/initos/initos.toml", "");
  write(root + "/etc/initos/sidecar/keep", "kept");
  mount_tmpfs(root + "/dev");
  write(root + "/dev/dev-marker", "");
  mount_tmpfs(root + "/dev/pts");
  write(root + "/dev/pts/pts-marker", "");
  mkdirs(root + "/proc");
  if (::mount("proc", (root + "/proc").c_str(), "proc", 0, nullptr) != 0) fail("mount proc");
  mount_tmpfs(root + "/sys");
  mount_tmpfs(root + "/run");
  mount_tmpfs(root + "/run/initos/state");
  write(root + "/run/initos/state/state-marker", "");
  mount_tmpfs(root + "/mnt/images");  // must be detached, not moved

  const std::string sysroot = root + "/sysroot";
  mount_tmpfs(sysroot);  // the OS root
  for (const char* d : {"/dev", "/proc", "/sys", "/run", "/etc", "/lib/systemd", "/sbin"}) {
    mkdirs(sysroot + d);
  }
  write(sysroot + "/etc/marker", "the os");
  write(sysroot + "/lib/systemd/systemd", "#!/bin/true\n", 0755);
  if (::symlink("/lib/systemd/systemd", (sysroot + "/sbin/init").c_str()) != 0) fail("symlink");
  if (!problems.empty()) return problems;

  auto init = FindOsInit(sysroot, "");
  if (!init.ok()) return "FindOsInit: " + init.error().str() + "\n";
  auto mi = ReadFileToString("/proc/self/mountinfo");
  if (!mi.ok()) return "read mountinfo\n";
  SwitchRootInput in;
  in.mountinfo = MountInfoBelow(*mi, root);
  in.init = *init;
  in.keep = {"/etc/initos/sidecar"};
  auto plan = PlanSwitchRoot(in);
  if (!plan.ok()) return "plan: " + plan.error().str() + "\n";

  // The old root stays reachable through this fd after it is covered.
  int old_root = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  bool exec_called = false;
  SwitchRootHooks hooks;
  hooks.exec = [&](const std::string& path, const std::vector<std::string>& argv) -> Result<void> {
    exec_called = true;
    if (path != "/sbin/init" || argv != std::vector<std::string>{"/sbin/init"}) {
      fail("exec of " + path);
    }
    // Now inside the new root.
    auto marker = ReadFileToString("/etc/marker");
    if (!marker.ok() || *marker != "the os") fail("/etc/marker of the OS not visible at /");
    for (const char* p : {"/dev/dev-marker", "/dev/pts/pts-marker",
                          "/run/initos/state/state-marker", "/proc/self/mountinfo", "/sbin/init"}) {
      if (::access(p, F_OK) != 0) fail(std::string(p) + " missing after the handover");
    }
    char cwd[256] = {};
    if (!::getcwd(cwd, sizeof cwd) || std::string(cwd) != "/") fail("cwd is not /");
    auto after = ReadFileToString("/proc/self/mountinfo");
    if (!after.ok()) {
      fail("mountinfo after");
    } else {
      auto mps = MountPointsFromMountInfo(*after);
      auto has = [&](const std::string& m) {
        return std::find(mps.begin(), mps.end(), m) != mps.end();
      };
      for (const char* m :
           {"/", "/dev", "/dev/pts", "/proc", "/sys", "/run", "/run/initos/state"}) {
        if (!has(m)) fail(std::string("no mount at ") + m + " in the new root");
      }
      for (const auto& m : mps) {
        if (m.find("mnt/images") != std::string::npos) fail("/mnt/images still mounted: " + m);
      }
    }
    // What the deletion left of the initramfs.
    for (const char* gone : {"init", "usr", "etc/initos/initos.toml", "dev", "run", "mnt"}) {
      if (Exists(old_root, gone)) fail(std::string("initramfs ") + gone + " not deleted");
    }
    if (!Exists(old_root, "etc/initos/sidecar/keep")) fail("kept file was deleted");
    return {};
  };
  auto r = ExecuteSwitchRoot(root, *plan, hooks);
  if (!r.ok()) fail("execute: " + r.error().str());
  if (!exec_called) fail("exec step never reached");
  return problems;
}

TEST(SwitchRootExec, HandsOverToTheNewRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount namespaces)";
  char t[] = "/tmp/switch_root_exec.XXXXXX";
  std::string base = ::mkdtemp(t);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string problems = RunHandoverInChild(base);
    (void)WriteFully(fds[1], problems.data(), problems.size());
    ::_exit(problems.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  auto out = ReadFdToString(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::system(("rm -rf " + base).c_str());
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace initos
