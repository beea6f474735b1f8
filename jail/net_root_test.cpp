// A jail's network for real: a child in its own network namespace, the
// host half set up from here, the jail half in the child, then real packets
// between the two and none anywhere else.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "base/file.h"
#include "base/testing/require.h"
#include "base/unique_fd.h"
#include "jail/net.h"
#include "jail/netlink.h"
#include "os/modules.h"

namespace initos {
namespace {

constexpr int kPort = 7777;

// Creates a link with `create` (named `name`) and deletes it again: ""
// when that works, else why not. The test kernel has veth and macvlan as
// modules (loaded with LoadModules from /lib/modules/KVER): the kernel's own
// request_module needs a modprobe, which the test VM lacks.
std::string LinkKindAvailable(const char* module, const std::string& name,
                              const std::function<NetlinkMessage()>& create) {
  auto probe = [&]() -> Result<void> {
    auto rt = Rtnetlink::Open();
    if (!rt.ok()) return rt.error();
    NetlinkMessage m = create();
    INITOS_TRY(rt->Request(m));
    auto index = rt->InterfaceIndex(name);
    if (!index.ok()) return index.error();
    NetlinkMessage del = BuildLinkDelete(*index);
    return rt->Request(del);
  };
  auto first = probe();
  if (first.ok()) return "";
  std::string kind = module;
  if (first.error().code != EOPNOTSUPP) return "creating a " + kind + ": " + first.error().str();
  utsname u{};
  ::uname(&u);
  auto loaded = LoadModules(std::string("/lib/modules/") + u.release, {module});
  if (!loaded.ok())
    return "no " + kind + " in the kernel and loading it failed: " + loaded.error().str();
  auto second = probe();
  return second.ok() ? "" : "creating a " + kind + " after loading it: " + second.error().str();
}

std::string VethAvailable() {
  return LinkKindAvailable("veth", "initos-vprobe0",
                           [] { return BuildVethCreate("initos-vprobe0", "initos-vprobe1"); });
}

sockaddr_in Addr(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// Reads one '\n'-terminated line (without it); "" on timeout or EOF.
std::string ReadLine(int fd, int timeout_ms) {
  std::string line;
  pollfd p{fd, POLLIN, 0};
  char c;
  while (::poll(&p, 1, timeout_ms) == 1 && ::read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return line.empty() ? "(timeout or EOF)" : line;
}

void WriteLine(int fd, const std::string& s) {
  std::string l = s + "\n";
  (void)!::write(fd, l.data(), l.size());
}

// Non-blocking connect, waiting at most timeout_ms: 0 or the errno.
int ConnectWithin(int fd, const sockaddr_in& a, int timeout_ms) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return ETIMEDOUT;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

// The jail side, in the child after unshare(CLONE_NEWNET): set up, check,
// serve one TCP exchange. Returns "" or what went wrong.
std::string JailSide(const std::string& name, const JailNetwork& net, int to_parent) {
  auto r = SetUpJailNetwork(name, net);
  if (!r.ok()) return "SetUpJailNetwork: " + r.error().str();
  if (if_nametoindex("eth0") == 0) return "no eth0 inside the jail";
  auto routes = ReadFileToString("/proc/net/route");
  if (!routes.ok()) return routes.error().str();
  // 10.98.0.0/24 via 10.99.0.1, little-endian hex as the kernel prints it.
  if (routes->find("eth0\t0000620A\t0100630A") == std::string::npos) {
    return "route 10.98.0.0/24 via 10.99.0.1 missing:\n" + *routes;
  }
  // Nothing but the configured /30 and route: 10.99.0.6 has no route at all.
  unique_fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int err = ConnectWithin(probe.get(), Addr("10.99.0.6", kPort), 1000);
  if (err != ENETUNREACH && err != EHOSTUNREACH) {
    return "connect to 10.99.0.6 gave errno " + std::to_string(err) + ", wanted unreachable";
  }
  // The IPv6 address is usable at once (no duplicate address detection
  // keeping it tentative): binding it works right after setup.
  unique_fd v6(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "fd99::2", &a6.sin6_addr);
  if (::bind(v6.get(), reinterpret_cast<sockaddr*>(&a6), sizeof a6) != 0) {
    return "bind [fd99::2]: " + std::string(strerror(errno));
  }
  unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in self = Addr("10.99.0.2", kPort);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&self), sizeof self) != 0 ||
      ::listen(listener.get(), 1) != 0) {
    return "listen on 10.99.0.2: " + std::string(strerror(errno));
  }
  WriteLine(to_parent, "ready");
  pollfd p{listener.get(), POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return "no connection from the host within 10 s";
  unique_fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  char buf[4] = {};
  if (::read(conn.get(), buf, 4) != 4 || std::string(buf, 4) != "ping") return "no ping";
  if (::write(conn.get(), "pong", 4) != 4) return "pong write failed";
  return "";
}

// Forks a child into a new network namespace; `host` runs here once it is
// there, then the child runs `jail`. Returns everything that went wrong.
std::string RunWithNetnsChild(const std::function<std::string(int)>& jail,
                              const std::function<std::string(pid_t, int)>& host) {
  int down[2], up[2];
  if (::pipe2(down, O_CLOEXEC) != 0 || ::pipe2(up, O_CLOEXEC) != 0) return "pipe";
  pid_t pid = ::fork();
  if (pid < 0) return "fork";
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    if (::unshare(CLONE_NEWNET) != 0) {
      WriteLine(up[1], "unshare CLONE_NEWNET failed");
      ::_exit(1);
    }
    WriteLine(up[1], "netns");
    if (ReadLine(down[0], 10000) != "go") ::_exit(1);
    std::string r = jail(up[1]);
    WriteLine(up[1], r.empty() ? "done" : r);
    ::_exit(0);
  }
  ::close(down[0]);
  ::close(up[1]);
  unique_fd to_child(down[1]), from_child(up[0]);
  std::string result;
  std::string first = ReadLine(from_child.get(), 10000);
  if (first != "netns") {
    result = "child: " + first;
  } else {
    result = host(pid, from_child.get());
    if (result.empty()) {
      WriteLine(to_child.get(), "go");
      std::string last = ReadLine(from_child.get(), 15000);
      if (last != "done") result = "child: " + last;
    }
  }
  if (!result.empty()) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return result;
}

TEST(NetRoot, HostConnectsToJailOverVeth) {
  const std::string name = "nettest2";
  JailNetwork net;
  net.kind = JailNetworkKind::kVeth;
  net.host_address = "10.99.0.1/30";
  net.addresses = {"10.99.0.2/30", "fd99::2/64"};
  net.routes = {"10.98.0.0/24 via 10.99.0.1"};
  ASSERT_EQ(DefaultVethName(name), "ve-nettest2");
  TearDownHostNetwork(name, net);
  std::string veth = VethAvailable();
  if (!veth.empty()) INITOS_KERNEL_FEATURE_MISSING() << veth;

  int down[2], up[2];
  ASSERT_EQ(::pipe2(down, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(up, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    if (::unshare(CLONE_NEWNET) != 0) {
      WriteLine(up[1], "unshare CLONE_NEWNET failed");
      ::_exit(1);
    }
    WriteLine(up[1], "netns");
    if (ReadLine(down[0], 10000) != "go") ::_exit(1);
    std::string r = JailSide(name, net, up[1]);
    WriteLine(up[1], r.empty() ? "done" : r);
    ::_exit(0);
  }
  ::close(down[0]);
  ::close(up[1]);
  unique_fd to_child(down[1]), from_child(up[0]);
  std::string problem;
  std::string line = ReadLine(from_child.get(), 10000);
  if (line != "netns") problem = "child: " + line;
  if (problem.empty()) {
    auto r = SetUpHostNetwork(name, net, pid);
    if (!r.ok()) problem = "SetUpHostNetwork: " + r.error().str();
  }
  if (problem.empty()) {
    WriteLine(to_child.get(), "go");
    line = ReadLine(from_child.get(), 10000);
    if (line != "ready") problem = "child: " + line;
  }
  if (problem.empty()) {
    // A real TCP exchange from the host namespace to the jail's address.
    unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    int err = ConnectWithin(s.get(), Addr("10.99.0.2", kPort), 5000);
    char buf[4] = {};
    pollfd p{s.get(), POLLIN, 0};
    if (err != 0) {
      problem = "connect to the jail: " + std::string(strerror(err));
    } else if (::write(s.get(), "ping", 4) != 4 || ::poll(&p, 1, 5000) != 1 ||
               ::read(s.get(), buf, 4) != 4 || std::string(buf, 4) != "pong") {
      problem = "no pong from the jail";
    }
  }
  if (problem.empty()) {
    line = ReadLine(from_child.get(), 10000);
    if (line != "done") problem = "child: " + line;
  }
  if (!problem.empty()) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(problem, "");
  // The jail's netns died with the child and takes the veth pair along (the
  // kernel cleans dead namespaces up asynchronously: wait up to 5 s).
  for (int i = 0; i < 100 && if_nametoindex("ve-nettest2") != 0; ++i) ::usleep(50000);
  EXPECT_EQ(if_nametoindex("ve-nettest2"), 0u);
  TearDownHostNetwork(name, net);
}

// macvlan on a host NIC (here one end of a host-side veth pair, whose other
// end plays the LAN with 10.97.0.1): the jail gets eth0 10.97.0.2/24 and a
// default route via 10.97.0.1, and its TCP connection reaches the host
// through the NIC.
TEST(NetRoot, MacvlanJailReachesTheLanThroughItsGateway) {
  const std::string name = "mvtest";
  std::string veth = VethAvailable();
  if (!veth.empty()) INITOS_KERNEL_FEATURE_MISSING() << veth;
  auto rt = Rtnetlink::Open();
  ASSERT_TRUE(rt.ok()) << rt.error().str();
  if (int stale = if_nametoindex("initos-mvnic"); stale != 0) {
    NetlinkMessage del = BuildLinkDelete(stale);
    (void)rt->Request(del);
  }
  NetlinkMessage pair = BuildVethCreate("initos-mvnic", "initos-mvlan");
  ASSERT_TRUE(rt->Request(pair).ok());
  auto nic = rt->InterfaceIndex("initos-mvnic");
  auto lan = rt->InterfaceIndex("initos-mvlan");
  ASSERT_TRUE(nic.ok() && lan.ok());
  auto lan_address = BuildAddressAdd(*lan, "10.97.0.1/24");
  ASSERT_TRUE(lan_address.ok());
  NetlinkMessage nic_up = BuildLinkUp(*nic), lan_up = BuildLinkUp(*lan);
  ASSERT_TRUE(rt->Request(*lan_address).ok());
  ASSERT_TRUE(rt->Request(nic_up).ok());
  ASSERT_TRUE(rt->Request(lan_up).ok());
  std::string macvlan = LinkKindAvailable(
      "macvlan", "initos-mvprobe", [&] { return BuildMacvlanCreate("initos-mvprobe", *nic); });
  if (!macvlan.empty()) {
    NetlinkMessage del = BuildLinkDelete(*nic);
    (void)rt->Request(del);
    INITOS_KERNEL_FEATURE_MISSING() << macvlan;
  }

  unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in lan_addr = Addr("10.97.0.1", kPort);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&lan_addr), sizeof lan_addr), 0)
      << strerror(errno);
  ASSERT_EQ(::listen(listener.get(), 1), 0);

  JailNetwork net;
  net.kind = JailNetworkKind::kMacvlan;
  net.host_interface = "initos-mvnic";
  net.addresses = {"10.97.0.2/24"};
  net.gateway = "10.97.0.1";
  std::string result = RunWithNetnsChild(
      [&](int) -> std::string {
        auto r = SetUpJailNetwork(name, net);
        if (!r.ok()) return "SetUpJailNetwork: " + r.error().str();
        auto routes = ReadFileToString("/proc/net/route");
        if (!routes.ok()) return routes.error().str();
        if (routes->find("eth0\t00000000\t0100610A") == std::string::npos) {
          return "default route via 10.97.0.1 missing:\n" + *routes;
        }
        unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        int err = ConnectWithin(c.get(), lan_addr, 5000);
        if (err != 0) return "connect to 10.97.0.1: " + std::string(strerror(err));
        pollfd p{c.get(), POLLOUT, 0};
        if (::poll(&p, 1, 2000) != 1 || ::write(c.get(), "ping", 4) != 4) return "write";
        return "";
      },
      [&](pid_t child, int) -> std::string {
        auto r = SetUpHostNetwork(name, net, child);
        return r.ok() ? "" : "SetUpHostNetwork: " + r.error().str();
      });
  EXPECT_EQ(result, "");
  if (result.empty()) {
    pollfd p{listener.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "the jail's connection never arrived";
    unique_fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ASSERT_EQ(::getpeername(conn.get(), reinterpret_cast<sockaddr*>(&peer), &len), 0);
    char ip[INET_ADDRSTRLEN];
    EXPECT_STREQ(inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip), "10.97.0.2");
    char buf[4] = {};
    pollfd in{conn.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&in, 1, 2000), 1);
    EXPECT_EQ(::read(conn.get(), buf, 4), 4);
    EXPECT_EQ(std::string(buf, 4), "ping");
  }
  TearDownHostNetwork(name, net);
  NetlinkMessage del = BuildLinkDelete(*nic);
  EXPECT_TRUE(rt->Request(del).ok());
}

TEST(NetRoot, LoopbackOnlyJailHasWorkingLo) {
  JailNetwork net;
  net.kind = JailNetworkKind::kLoopback;
  std::string result = RunWithNetnsChild(
      [&](int) -> std::string {
        auto r = SetUpJailNetwork("lotest", net);
        if (!r.ok()) return r.error().str();
        unique_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a = Addr("127.0.0.1", kPort);
        if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(l.get(), 1) != 0) {
          return "listen on 127.0.0.1: " + std::string(strerror(errno));
        }
        unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        int err = ConnectWithin(c.get(), a, 2000);
        if (err != 0) return "connect over lo: " + std::string(strerror(err));
        if (if_nametoindex("eth0") != 0) return "eth0 in a loopback-only jail";
        return "";
      },
      [&](pid_t child, int) -> std::string {
        auto r = SetUpHostNetwork("lotest", net, child);  // nothing to do on the host
        return r.ok() ? "" : r.error().str();
      });
  EXPECT_EQ(result, "");
}

}  // namespace
}  // namespace initos
