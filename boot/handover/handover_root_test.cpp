// The switch-root stage with the SSH sidecar, on the host: a forked child
// plays PID 1 in its own mount namespace with a tmpfs "initramfs" holding
// initos, sshd and its libraries, hands over to a tmpfs "OS", and the test
// then logs in over SSH: the sidecar must work although the initramfs it
// came from has been deleted.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "base/file.h"
#include "base/testing/net_util.h"
#include "base/testing/test_util.h"
#include "boot/handover/handover.h"
#include "gtest/gtest.h"
#include "sidecar/sidecar_files.h"

namespace initos {
namespace {

std::string Capture(const std::string& cmd, int* status) {
  ::initos::testutil::ShellResult r = ::initos::testutil::Shell(cmd);
  *status = r.wait_status;
  return r.out;
}

// Reads one '\n'-terminated line from fd (the child's report).
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

void Say(int fd, const std::string& line) {
  std::string s = line + "\n";
  (void)WriteFully(fd, s.data(), s.size());
}

struct Tree {
  std::string problems;
  void Fail(const std::string& what) { problems += what + "; "; }
  void Dirs(const std::string& p) {
    if (!MakeDirs(p).ok()) Fail("mkdir " + p);
  }
  void Copy(const std::string& src, const std::string& dst, mode_t mode) {
    size_t slash = dst.rfind('/');
    Dirs(dst.substr(0, slash));
    auto data = ReadFileToString(src);
    if (!data.ok() || !WriteStringToFile(dst, *data, mode).ok()) Fail("copy " + src);
  }
  void Mount(const char* src, const std::string& dst, const char* type, unsigned long flags) {
    Dirs(dst);
    if (::mount(src, dst.c_str(), type, flags, type ? "mode=0755" : nullptr) != 0) {
      Fail("mount " + dst);
    }
  }
};

// PID 1 stand-in. Reports "ready SIDECAR_PID" (or "error ...") on `report`,
// waits for `release` to close, then reaps the sidecar and reports its exit.
void PlayPid1(const std::string& base, int port, const std::string& pubkey, int report,
              int release) {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    Say(report, "error namespace");
    return;
  }
  Tree t;
  const std::string root = base + "/root";
  t.Mount("tmpfs", root, "tmpfs", 0);
  auto files = SidecarFiles();
  if (!files.ok()) {
    Say(report, "error " + files.error().str());
    return;
  }
  for (const auto& f : *files) t.Copy(f.source, root + f.dest, 0755);
  t.Dirs(root + "/etc/initos");
  if (!WriteStringToFile(root + kSidecarManifest, SidecarManifestText(*files)).ok()) {
    t.Fail("manifest");
  }
  t.Copy(INITOS_BINARY, root + "/init", 0755);
  t.Mount("/dev", root + "/dev", nullptr, MS_BIND | MS_REC);
  t.Mount("/sys", root + "/sys", nullptr, MS_BIND | MS_REC);
  t.Dirs(root + "/proc");
  if (::mount("proc", (root + "/proc").c_str(), "proc", 0, nullptr) != 0) t.Fail("proc");
  t.Mount("tmpfs", root + "/run", "tmpfs", 0);
  t.Mount("tmpfs", root + "/run/initos/state", "tmpfs", 0);
  const std::string os = root + "/sysroot";
  t.Mount("tmpfs", os, "tmpfs", 0);
  for (const char* d : {"/dev", "/proc", "/sys", "/run", "/etc", "/sbin"}) t.Dirs(os + d);
  if (!WriteStringToFile(os + "/etc/marker", "the OS after the handover\n").ok() ||
      !WriteStringToFile(os + "/sbin/init", "#!/bin/false\n", 0755).ok()) {
    t.Fail("os files");
  }
  if (!t.problems.empty()) {
    Say(report, "error " + t.problems);
    return;
  }

  Config config;
  config.sidecar.enable = true;
  config.sidecar.listen = {"127.0.0.1:" + std::to_string(port)};
  config.sidecar.authorized_keys = {pubkey};
  HandoverOptions o;
  o.root = root;
  o.state_dir = root + "/run/initos/state";
  int old_root = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  SwitchRootHooks hooks;
  hooks.exec = [&](const std::string& path, const std::vector<std::string>&) -> Result<void> {
    struct stat st;
    if (path != "/sbin/init") return Err() << "wrong init " << path;
    if (::fstatat(old_root, "usr/sbin/sshd", &st, 0) == 0 ||
        ::fstatat(old_root, "init", &st, 0) == 0) {
      return Err() << "initramfs not deleted";
    }
    auto kids = ReadFileToString("/proc/self/task/" + std::to_string(::getpid()) + "/children");
    if (!kids.ok() || kids->empty()) return Err() << "no sidecar child";
    pid_t sidecar = std::stoi(*kids);
    Say(report, "ready " + std::to_string(sidecar));
    char c;
    while (::read(release, &c, 1) > 0) {
    }
    int status = 0;
    ::waitpid(sidecar, &status, 0);
    Say(report, "sidecar " + std::to_string(status));
    return {};
  };
  auto r = SwitchRootToOs(config, o, hooks);
  if (!r.ok()) Say(report, "error " + r.error().str());
}

TEST(Handover, SidecarOutlivesTheInitramfs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  for (const char* p : {"/usr/sbin/sshd", "/usr/bin/ssh", "/bin/busybox"}) {
    if (::access(p, X_OK) != 0) GTEST_SKIP() << p << " missing (scripts/setup.sh)";
  }
  int st = 0;
  std::string help = Capture(std::string(INITOS_BINARY) + " sidecar --help", &st);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "initos sidecar --help: " << help;
  char t[] = "/tmp/handover_root_test.XXXXXX";
  const std::string base = ::mkdtemp(t);
  Capture("ssh-keygen -q -t ed25519 -N '' -f " + base + "/client", &st);
  auto pub = ReadFileToString(base + "/client.pub");
  ASSERT_TRUE(pub.ok());
  const int port = testutil::FreeLoopbackPort();

  int rep[2], rel[2];
  ASSERT_EQ(::pipe2(rep, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(rel, O_CLOEXEC), 0);
  pid_t pid1 = ::fork();
  ASSERT_GE(pid1, 0);
  if (pid1 == 0) {
    ::close(rep[0]);
    ::close(rel[1]);
    PlayPid1(base, port, *pub, rep[1], rel[0]);
    ::_exit(0);
  }
  ::close(rep[1]);
  ::close(rel[0]);
  std::string ready = ReadLine(rep[0]);
  ASSERT_EQ(ready.rfind("ready ", 0), 0u) << ready;
  pid_t sidecar = std::stoi(ready.substr(6));
  for (int i = 0; i < 600 && !testutil::LoopbackPortOpen(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string out = Capture(
      "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
      "-o IdentityAgent=none -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR "
      "-o ConnectTimeout=10 -i " +
          base + "/client -p " + std::to_string(port) +
          " root@127.0.0.1 'cat /sysroot/etc/marker; ls /sysroot/usr 2>&1 | head -1'",
      &st);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_EQ(out.rfind("the OS after the handover\n", 0), 0u) << out;
  auto cmdline = ReadFileToString("/proc/" + std::to_string(sidecar) + "/cmdline");
  ASSERT_TRUE(cmdline.ok());
  EXPECT_EQ(cmdline->rfind("@initos-sidecar", 0), 0u) << *cmdline;

  ::kill(sidecar, SIGTERM);
  ::close(rel[1]);
  std::string done = ReadLine(rep[0]);
  ::close(rep[0]);
  int status = 0;
  ::waitpid(pid1, &status, 0);
  std::system(("rm -rf " + base).c_str());
  EXPECT_EQ(done, "sidecar 0");  // exited 0 on SIGTERM
}

// PID 1 stand-in for init.os-argv: an OS root with /bin/app and no
// /sbin/init; reports what the handover would exec ("exec PATH ARGV...") or
// "error ...".
void PlayPid1WithOsArgv(const std::string& base, const std::vector<std::string>& os_argv,
                        int report) {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    Say(report, "error namespace");
    return;
  }
  Tree t;
  const std::string root = base + "/root";
  t.Mount("tmpfs", root, "tmpfs", 0);
  t.Mount("/dev", root + "/dev", nullptr, MS_BIND | MS_REC);
  t.Dirs(root + "/proc");
  if (::mount("proc", (root + "/proc").c_str(), "proc", 0, nullptr) != 0) t.Fail("proc");
  t.Mount("tmpfs", root + "/run", "tmpfs", 0);
  const std::string os = root + "/sysroot";
  t.Mount("tmpfs", os, "tmpfs", 0);
  for (const char* d : {"/dev", "/proc", "/run", "/bin"}) t.Dirs(os + d);
  if (!WriteStringToFile(os + "/bin/app", "#!/bin/false\n", 0755).ok()) t.Fail("os files");
  if (!t.problems.empty()) {
    Say(report, "error " + t.problems);
    return;
  }
  Config config;
  config.init.mode = InitMode::kSwitchRoot;
  config.init.os_argv = os_argv;
  HandoverOptions o;
  o.root = root;
  SwitchRootHooks hooks;
  hooks.exec = [&](const std::string& path, const std::vector<std::string>& argv) -> Result<void> {
    std::string line = "exec " + path;
    for (const auto& a : argv) line += " " + a;
    Say(report, line);
    return {};
  };
  auto r = SwitchRootToOs(config, o, hooks);
  if (!r.ok()) Say(report, "error " + r.error().str());
}

std::string HandOverWithOsArgv(const std::vector<std::string>& os_argv) {
  char t[] = "/tmp/handover_root_test.XXXXXX";
  const std::string base = ::mkdtemp(t);
  int rep[2];
  EXPECT_EQ(::pipe2(rep, O_CLOEXEC), 0);
  pid_t pid1 = ::fork();
  if (pid1 == 0) {
    ::close(rep[0]);
    PlayPid1WithOsArgv(base, os_argv, rep[1]);
    ::_exit(0);
  }
  ::close(rep[1]);
  std::string line = ReadLine(rep[0]);
  ::close(rep[0]);
  ::waitpid(pid1, nullptr, 0);
  std::system(("rm -rf " + base).c_str());
  return line;
}

// A VM jail's guest execs the jail's chain (init.os-argv), whole argv, and
// never searches for an OS init.
TEST(Handover, OsArgvIsExecedInsteadOfOsInit) {
  ASSERT_EQ(::geteuid(), 0u) << "root test";
  EXPECT_EQ(HandOverWithOsArgv({"/bin/app", "--flag", "two words"}),
            "exec /bin/app /bin/app --flag two words");
  std::string missing = HandOverWithOsArgv({"/bin/nothere", "x"});
  EXPECT_EQ(missing.rfind("error ", 0), 0u) << missing;
  EXPECT_NE(missing.find("/bin/nothere"), std::string::npos) << missing;
  EXPECT_NE(missing.find("init.os-argv"), std::string::npos) << missing;
}

}  // namespace
}  // namespace initos
