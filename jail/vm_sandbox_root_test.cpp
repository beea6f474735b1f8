// QEMU in its sandbox (jail/vm_sandbox.h), for real: a `-machine none` QEMU
// answering QMP on its one inherited fd, checked from the host side.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "base/file.h"
#include "jail/qmp.h"
#include "jail/testing/qemu_qmp.h"
#include "jail/vm_sandbox.h"

namespace initos {
namespace {

std::string Field(const std::string& status, const std::string& name) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      size_t v = line.find_first_not_of(" \t", name.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  return "<missing>";
}

std::map<int, std::string> FdLinks(pid_t pid) {
  std::map<int, std::string> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char buf[512];
    ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), buf, sizeof(buf) - 1);
    out[std::atoi(e->d_name)] = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
  }
  ::closedir(d);
  return out;
}

// Waits for the process behind pidfd to end; its wait status, or -1.
int WaitEnd(pid_t pid, int pidfd, int ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

TEST(VmSandboxRoot, QemuRunsUnprivilegedSeccompedWithOnlyItsFds) {
  ASSERT_EQ(::access("/usr/bin/qemu-system-x86_64", X_OK), 0) << "install qemu-system-x86";
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  unique_fd ours(sv[0]), theirs(sv[1]);
  // A descriptor leaked into the supervisor without O_CLOEXEC must not
  // reach QEMU.
  unique_fd canary(::open("/etc/hostname", O_RDONLY));
  ASSERT_TRUE(canary.ok());
  unique_fd console(::open("/dev/null", O_RDWR | O_CLOEXEC));
  VmSandboxSpec s;
  s.name = "sbtest";
  s.argv = testutil::QmpOnlyQemuArgv(
      {"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
  s.fds = {theirs.get()};
  s.console_fd = console.get();
  s.host_id = 231072;
  // As for VFIO; below the current hard limit (this host's root lacks
  // CAP_SYS_RESOURCE, PID 1 has it).
  struct rlimit hard {};
  ASSERT_EQ(::getrlimit(RLIMIT_MEMLOCK, &hard), 0);
  s.memlock_bytes = std::min<uint64_t>(96ull << 20, hard.rlim_max / 2) & ~uint64_t{4095};
  auto q = SpawnSandboxedQemu(s);
  ASSERT_TRUE(q.ok()) << q.error().str();
  theirs.reset();
  QmpClient qmp(std::move(ours));
  auto h = qmp.Handshake(std::chrono::milliseconds(10000));
  ASSERT_TRUE(h.ok()) << h.error().str();

  auto status = ReadFileToString("/proc/" + std::to_string(q->pid) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(Field(*status, "Uid"), "231072\t231072\t231072\t231072");
  EXPECT_EQ(Field(*status, "Gid"), "231072\t231072\t231072\t231072");
  EXPECT_EQ(Field(*status, "Seccomp"), "2");
  EXPECT_EQ(Field(*status, "NoNewPrivs"), "1");
  EXPECT_EQ(Field(*status, "CapEff"), "0000000000000000");
  EXPECT_EQ(Field(*status, "CapBnd"), "0000000000000000");
  auto limits = ReadFileToString("/proc/" + std::to_string(q->pid) + "/limits");
  ASSERT_TRUE(limits.ok());
  const std::string lock = std::to_string(s.memlock_bytes);
  EXPECT_TRUE(std::regex_search(*limits, std::regex("Max locked memory +" + lock + " +" + lock)))
      << *limits;
  // Its fds: the console, the QMP socket at 3, and what QEMU made itself
  // (eventfds, its signalfd, epoll): no file of the host.
  auto fds = FdLinks(q->pid);
  ASSERT_TRUE(fds.count(3));
  EXPECT_TRUE(fds[3].starts_with("socket:")) << fds[3];
  for (const auto& [fd, link] : fds) {
    if (fd <= 2) {
      EXPECT_EQ(link, "/dev/null");
      continue;
    }
    EXPECT_TRUE(link.starts_with("socket:") || link.starts_with("anon_inode:") ||
                link.starts_with("pipe:") || link == "/dev/urandom")
        << "fd " << fd << " -> " << link;
    EXPECT_NE(link, "/etc/hostname");
  }
  // Its root: /usr and a /dev with only null, zero, urandom.
  std::string root = "/proc/" + std::to_string(q->pid) + "/root";
  EXPECT_EQ(::access((root + "/usr/bin/qemu-system-x86_64").c_str(), F_OK), 0);
  EXPECT_NE(::access((root + "/etc/hostname").c_str(), F_OK), 0);
  EXPECT_NE(::access((root + "/dev/kvm").c_str(), F_OK), 0);
  EXPECT_EQ(::access((root + "/dev/urandom").c_str(), F_OK), 0);
  EXPECT_NE(::access((root + "/home").c_str(), F_OK), 0);

  auto quit = qmp.Quit();
  EXPECT_TRUE(quit.ok()) << quit.error().str();
  int st = WaitEnd(q->pid, q->pidfd.get(), 10000);
  ASSERT_NE(st, -1) << "QEMU did not exit on QMP quit";
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

// /dev/kvm (root:kvm 0660) reaches QEMU's unprivileged uid through the kvm
// group mapped into its user namespace: QEMU with -accel kvm (no vcpu with
// -machine none, so nested KVM cannot hang) only answers QMP when it could
// open it.
TEST(VmSandboxRoot, KvmDeviceIsOpenedThroughItsGroup) {
  if (::access("/dev/kvm", F_OK) != 0) {
    // Without KVM (the root tests' own VM) the device is refused by name.
    VmSandboxSpec s;
    s.name = "sbkvm";
    s.argv = {"/usr/bin/qemu-system-x86_64"};
    s.host_id = 231073;
    s.devices = {"/dev/kvm"};
    auto r = SpawnSandboxedQemu(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().str().find("/dev/kvm"), std::string::npos) << r.error().str();
    return;
  }
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  unique_fd ours(sv[0]), theirs(sv[1]);
  unique_fd console(::open("/dev/null", O_RDWR | O_CLOEXEC));
  VmSandboxSpec s;
  s.name = "sbkvm";
  s.argv = testutil::QmpOnlyQemuArgv({"-accel", "kvm"});
  s.fds = {theirs.get()};
  s.console_fd = console.get();
  s.host_id = 231073;
  s.devices = {"/dev/kvm"};
  auto q = SpawnSandboxedQemu(s);
  ASSERT_TRUE(q.ok()) << q.error().str();
  theirs.reset();
  QmpClient qmp(std::move(ours));
  auto h = qmp.Handshake(std::chrono::milliseconds(10000));
  EXPECT_TRUE(h.ok()) << h.error().str() << " (QEMU could not open /dev/kvm?)";
  std::string root = "/proc/" + std::to_string(q->pid) + "/root";
  EXPECT_EQ(::access((root + "/dev/kvm").c_str(), F_OK), 0);
  (void)qmp.Quit();
  int st = WaitEnd(q->pid, q->pidfd.get(), 10000);
  ASSERT_NE(st, -1);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

TEST(VmSandboxRoot, RootUidAndABadDeviceAreRefused) {
  VmSandboxSpec s;
  s.name = "sbtest";
  s.argv = {"/usr/bin/qemu-system-x86_64"};
  s.host_id = 0;
  EXPECT_FALSE(SpawnSandboxedQemu(s).ok());
  s.host_id = 231072;
  s.devices = {"/dev/tty0"};  // root's, 0600: never for QEMU
  auto r = SpawnSandboxedQemu(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("/dev/tty0"), std::string::npos) << r.error().str();
}

}  // namespace
}  // namespace initos
