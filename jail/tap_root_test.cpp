// A VM jail's tap for real, in a fresh network namespace: created through
// /dev/net/tun, addressed and up over rtnetlink, handed to a real QEMU as
// -netdev tap,fd=N, and gone once the last fd is closed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "jail/qemu_command.h"
#include "jail/tap.h"
#include "jail/testing/qemu_qmp.h"

namespace initos {
namespace {

// Runs `body` in a forked child inside a new network namespace; its
// result ("" = fine, else what went wrong) comes back through a pipe.
std::string InNewNetns(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe2 failed";
  unique_fd rd(fds[0]), wr(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    rd.reset();
    std::string r = ::unshare(CLONE_NEWNET) == 0 ? body() : "unshare(CLONE_NEWNET) failed";
    (void)!::write(wr.get(), r.data(), r.size());
    ::_exit(0);
  }
  wr.reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    out += " (child ended with status " + std::to_string(status) + ")";
  return out;
}

// Flags, IPv4 address and netmask of `name` through the classic ioctls.
struct LinkState {
  bool up = false;
  std::string address, netmask;
};

Result<LinkState> StateOf(const std::string& name) {
  unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return ErrnoError() << "socket";
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  LinkState st;
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return ErrnoError() << "SIOCGIFFLAGS " << name;
  st.up = ifr.ifr_flags & IFF_UP;
  char text[INET_ADDRSTRLEN];
  if (::ioctl(s.get(), SIOCGIFADDR, &ifr) != 0) return ErrnoError() << "SIOCGIFADDR " << name;
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr)->sin_addr, text, sizeof text);
  st.address = text;
  if (::ioctl(s.get(), SIOCGIFNETMASK, &ifr) != 0) return ErrnoError() << "SIOCGIFNETMASK";
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ifr.ifr_netmask)->sin_addr, text,
            sizeof text);
  st.netmask = text;
  return st;
}

TEST(TapRoot, CreatedConfiguredAndGoneWithItsFd) {
  EXPECT_EQ(DefaultTapName("a-rather-long-jail-name"), "tap-a-rather-lo");
  std::string problem = InNewNetns([]() -> std::string {
    auto tap = CreateTap("tap-t0");
    if (!tap.ok()) return "CreateTap: " + tap.error().str();
    if (!(::fcntl(tap->get(), F_GETFD) & FD_CLOEXEC)) return "the tap fd is not O_CLOEXEC";
    ifreq ifr{};
    if (::ioctl(tap->get(), TUNGETIFF, &ifr) != 0) return "TUNGETIFF failed";
    if (std::string(ifr.ifr_name) != "tap-t0") return "attached to " + std::string(ifr.ifr_name);
    if ((ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) !=
        (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
      return "flags " + std::to_string(ifr.ifr_flags);
    if (CreateTap("tap-t0").ok()) return "a second tap of the same name was created";
    if (auto r = ConfigureTapHost("tap-t0", "10.97.0.1/30"); !r.ok())
      return "ConfigureTapHost: " + r.error().str();
    auto st = StateOf("tap-t0");
    if (!st.ok()) return st.error().str();
    if (!st->up) return "tap-t0 is not up";
    if (st->address != "10.97.0.1" || st->netmask != "255.255.255.252")
      return "tap-t0 has " + st->address + " mask " + st->netmask;
    // Not persistent: closing the only fd removes the device.
    tap->reset();
    if (if_nametoindex("tap-t0") != 0) return "tap-t0 is still there after its fd was closed";
    if (ConfigureTapHost("tap-t0", "").ok()) return "configured a tap that does not exist";
    if (CreateTap("").ok() || CreateTap("tap-0123456789ab").ok()) return "bad names accepted";
    // No address: only up.
    auto bare = CreateTap("tap-t1");
    if (!bare.ok()) return "CreateTap tap-t1: " + bare.error().str();
    if (auto r = ConfigureTapHost("tap-t1", ""); !r.ok()) return r.error().str();
    if (StateOf("tap-t1").ok()) return "tap-t1 got an address";
    return "";
  });
  EXPECT_EQ(problem, "");
}

// QEMU 7.2 takes the tap as an inherited fd (what an unprivileged QEMU in
// a VM jail gets): the NIC's backend is the tap, and the device goes away
// with QEMU once our copy is closed.
TEST(TapRoot, QemuRunsOnTheTapFd) {
  std::string kernel;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/boot", ec))
    if (e.path().filename().string().starts_with("vmlinuz-")) kernel = e.path().string();
  ASSERT_FALSE(kernel.empty()) << "no /boot/vmlinuz-*: run scripts/setup.sh";
  testutil::TempDir dir;
  std::string problem = InNewNetns([&]() -> std::string {
    auto tap = CreateTap("tap-q0");
    if (!tap.ok()) return "CreateTap: " + tap.error().str();
    if (auto r = ConfigureTapHost("tap-q0", "10.97.1.1/30"); !r.ok()) return r.error().str();
    testutil::QmpQemu qemu;
    QemuVm vm;
    vm.kernel = kernel;
    vm.memory_mb = 128;
    vm.tap_fd = tap->get();
    vm.qmp_fd = qemu.qmp_child_fd();
    vm.no_defaults = true;
    vm.sandbox = true;
    auto argv = QemuArgv(vm);
    if (!argv.ok()) return argv.error().str();
    argv->push_back("-S");
    if (auto r = qemu.Start(*argv, {tap->get()}, dir / "qemu.log"); !r.ok()) {
      auto log = ReadFileToString(dir / "qemu.log");
      return "QEMU: " + r.error().str() + "\n" + (log.ok() ? *log : "");
    }
    auto net = qemu.Execute(
        R"({"execute": "human-monitor-command", "arguments": {"command-line": "info network"}})");
    if (!net.ok()) return net.error().str();
    if (net->find("net0: index=0,type=tap") == std::string::npos) return "info network: " + *net;
    tap->reset();  // QEMU's copy keeps the device
    if (if_nametoindex("tap-q0") == 0) return "tap-q0 vanished while QEMU holds it";
    if (auto q = qemu.Execute(R"({"execute": "quit"})"); !q.ok()) return q.error().str();
    auto status = qemu.Wait(std::chrono::seconds(30));
    if (!status.ok()) return status.error().str();
    if (*status != 0) return "QEMU exit status " + std::to_string(*status);
    if (if_nametoindex("tap-q0") != 0) return "tap-q0 is left after QEMU exited";
    return "";
  });
  EXPECT_EQ(problem, "");
}

}  // namespace
}  // namespace initos
