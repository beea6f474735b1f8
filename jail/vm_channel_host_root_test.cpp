// The host end of the VM channel over real AF_VSOCK sockets: the loopback
// transport (CID 1) stands in for a guest, and /dev/vhost-vsock for the CID
// claims. The project's hosts lack vsock_loopback and vhost_vsock:
// scripts/root-tests-in-vm.sh loads both in its guest and runs these there.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "base/spawn.h"
#include "base/testing/require.h"
#include "jail/vm_channel_host.h"

namespace initos {
namespace {

constexpr uint32_t kLocalCid = VMADDR_CID_LOCAL;
// Not the supervisor's port, so a running supervisor is not disturbed.
constexpr uint32_t kTestReadyPort = 31025;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool HaveVsockLoopback() {
  return Exists("/sys/module/vsock_loopback");
}

// A blocking AF_VSOCK client to the loopback CID.
unique_fd Dial(uint32_t port) {
  unique_fd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_vm a{};
  a.svm_family = AF_VSOCK;
  a.svm_cid = kLocalCid;
  a.svm_port = port;
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return unique_fd();
  return s;
}

TEST(VsockRoot, ReadyLineArrivesWithThePeerCid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!HaveVsockLoopback())
    INITOS_KERNEL_FEATURE_MISSING() << "no vsock_loopback module loaded (no AF_VSOCK to CID 1)";
  auto l = ListenReady(kTestReadyPort);
  ASSERT_TRUE(l.ok()) << l.error().str();

  // Nothing pending: the non-blocking accept says so.
  auto pending = AcceptVsock(l->get());
  ASSERT_TRUE(pending.ok()) << pending.error().str();
  EXPECT_FALSE(pending->has_value());
  // Nobody connects: a bounded wait, not a hang.
  auto start = std::chrono::steady_clock::now();
  auto none = AcceptReady(l->get(), 200);
  ASSERT_FALSE(none.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  std::thread guest([] {
    unique_fd s = Dial(kTestReadyPort);
    std::string line = EncodeVmReady("web", 7);
    if (s.ok()) (void)WriteFully(s.get(), line.data(), line.size());
  });
  auto r = AcceptReady(l->get(), 3000);
  guest.join();
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->cid, kLocalCid);
  EXPECT_EQ(r->ready, (VmReady{"web", 7}));

  // A guest that says something else is an error naming its CID.
  std::thread liar([] {
    unique_fd s = Dial(kTestReadyPort);
    if (s.ok()) (void)WriteFully(s.get(), "HELLO\n", 6);
  });
  auto bad = AcceptReady(l->get(), 3000);
  liar.join();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("guest CID 1:"), std::string::npos) << bad.error().str();
}

// A fake guest agent on the loopback CID and the real agent port: answers
// one exec (echoes its stdin to stdout, "err" to stderr, exit 5) or one
// poweroff (exit 0).
class LoopbackAgent {
 public:
  LoopbackAgent() {
    auto l = ListenReady(kVmAgentPort);
    EXPECT_TRUE(l.ok()) << l.error().str();
    if (!l.ok()) return;
    listen_ = std::move(*l);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackAgent() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> argv;
  std::atomic<bool> got_poweroff{false};

 private:
  void Serve() {
    pollfd p{listen_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    unique_fd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.ok()) return;
    std::string buf, input;
    for (;;) {
      auto f = DecodeVmFrame(buf);
      if (!f.ok()) return;
      if (!f->has_value()) {
        char tmp[65536];
        ssize_t n = ::read(c.get(), tmp, sizeof tmp);
        if (n <= 0) return;
        buf.append(tmp, static_cast<size_t>(n));
        continue;
      }
      VmFrame& frame = **f;
      if (frame.type == VmFrameType::kPoweroff) {
        got_poweroff = true;
        Send(c.get(), VmFrameType::kExit, EncodeVmExit(0));
        return;
      }
      if (frame.type == VmFrameType::kExecArgv) {
        if (auto a = DecodeVmArgv(frame.payload); a.ok()) argv = *a;
      } else if (frame.type == VmFrameType::kStdin && !frame.payload.empty()) {
        input += frame.payload;
      } else if (frame.type == VmFrameType::kStdin) {
        Send(c.get(), VmFrameType::kStdout, input);
        Send(c.get(), VmFrameType::kStderr, "err");
        Send(c.get(), VmFrameType::kExit, EncodeVmExit(5 << 8));
        return;
      }
    }
  }
  static void Send(int fd, VmFrameType t, const std::string& payload) {
    auto f = EncodeVmFrame(VmFrame{t, payload});
    if (f.ok()) (void)WriteFully(fd, f->data(), f->size());
  }
  unique_fd listen_;
  std::thread thread_;
};

TEST(VsockRoot, ExecRelayChildReachesTheAgentAndExitsWithItsStatus) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!HaveVsockLoopback())
    INITOS_KERNEL_FEATURE_MISSING() << "no vsock_loopback module loaded (no AF_VSOCK to CID 1)";
  std::string out_text, err_text;
  {
    LoopbackAgent agent;
    int in[2], out[2], err[2];
    ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
    unique_fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
    ASSERT_TRUE(WriteFully(in_w.get(), "over vsock\n", 11).ok());
    in_w.reset();
    auto pid = SpawnGuestExec(kLocalCid, {"cat", "-"}, in_r.get(), out_w.get(), err_w.get());
    ASSERT_TRUE(pid.ok()) << pid.error().str();
    in_r.reset();
    out_w.reset();
    err_w.reset();
    auto o = ReadFdToString(out_r.get());
    auto e = ReadFdToString(err_r.get());
    int status = 0;
    ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_TRUE(o.ok() && e.ok());
    EXPECT_EQ(WEXITSTATUS(status), 5) << "stderr: " << *e;
    out_text = *o;
    err_text = *e;
  }
  EXPECT_EQ(out_text, "over vsock\n");
  EXPECT_EQ(err_text, "err");

  {
    LoopbackAgent agent;
    auto st = RequestGuestPoweroff(kLocalCid, 3000);
    ASSERT_TRUE(st.ok()) << st.error().str();
    EXPECT_EQ(*st, 0);
    EXPECT_TRUE(agent.got_poweroff);
  }
  LoopbackAgent agent;
  auto pid = SpawnGuestPoweroff(kLocalCid, 3000);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(VsockRoot, VhostVsockCidTakenElsewhereMovesToTheNext) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!Exists("/dev/vhost-vsock"))
    INITOS_KERNEL_FEATURE_MISSING() << "no /dev/vhost-vsock (modprobe vhost_vsock)";
  // Two allocators stand for two processes handing out the same CIDs.
  VmCidAllocator ours(50000), theirs(50000);
  auto first = OpenVhostVsock(theirs);
  ASSERT_TRUE(first.ok()) << first.error().str();
  EXPECT_EQ(first->cid, 50000u);
  auto second = OpenVhostVsock(ours);
  ASSERT_TRUE(second.ok()) << second.error().str();
  EXPECT_EQ(second->cid, 50001u) << "50000 is claimed by the other vhost-vsock fd";
  EXPECT_NE(ours.Allocate(), 50000u) << "a CID taken elsewhere is never retried";
  // The kernel accepts the same CID again on the same fd (as QEMU sets it).
  uint64_t cid = second->cid;
  EXPECT_EQ(::ioctl(second->fd.get(), _IOW(0xAF, 0x60, uint64_t), &cid), 0) << std::strerror(errno);
}

// A real guest on the other end: QEMU (TCG) boots INITOS_NESTED_KERNEL with
// INITOS_NESTED_INITRD, whose /init sends "READY nested 1" to the host's
// kVmReadyPort and echoes whatever arrives on kVmAgentPort (socat). QEMU
// gets the vhost-vsock fd whose CID OpenVhostVsock claimed (vhostfd=), as the
// supervisor hands it over. Needs vhost_vsock, i.e. a level of nesting on
// this project's hosts: scripts/vm-nested-probe.sh sets it all up.
TEST(VsockNestedRoot, GuestOnAClaimedCidReportsReadyAndAnswersOnItsCid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const char* kernel = std::getenv("INITOS_NESTED_KERNEL");
  const char* initrd = std::getenv("INITOS_NESTED_INITRD");
  if (kernel == nullptr || initrd == nullptr)
    GTEST_SKIP() << "INITOS_NESTED_KERNEL/INITRD not set (scripts/vm-nested-probe.sh sets them)";
  ASSERT_TRUE(Exists("/dev/vhost-vsock")) << "modprobe vhost_vsock";
  VmCidAllocator cids;
  auto vh = OpenVhostVsock(cids);
  ASSERT_TRUE(vh.ok()) << vh.error().str();
  auto l = ListenReady(kVmReadyPort);
  ASSERT_TRUE(l.ok()) << l.error().str();

  SpawnOptions o;
  const std::string fd = std::to_string(vh->fd.get());
  o.argv = {"qemu-system-x86_64",
            "-accel",
            "tcg",
            "-m",
            "192",
            "-nographic",
            "-no-reboot",
            "-nic",
            "none",
            "-device",
            "vhost-vsock-pci,guest-cid=" + std::to_string(vh->cid) + ",vhostfd=" + fd,
            "-kernel",
            kernel,
            "-initrd",
            initrd,
            "-append",
            "console=ttyS0 quiet panic=-1"};
  int vhost_fd = vh->fd.get();
  o.steps.push_back({"pass the vhost-vsock fd", [vhost_fd]() -> Result<void> {
                       if (::fcntl(vhost_fd, F_SETFD, 0) != 0) return ErrnoError() << "fcntl";
                       return {};
                     }});
  auto started = std::chrono::steady_clock::now();
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{*pid};

  auto r = AcceptReady(l->get(), 15 * 60 * 1000);
  ASSERT_TRUE(r.ok()) << r.error().str();
  std::printf("nested guest: READY after %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  EXPECT_EQ(r->cid, vh->cid) << "the peer CID is the one claimed on the vhost fd";
  EXPECT_EQ(r->ready, (VmReady{"nested", 1}));

  auto c = ConnectAgent(vh->cid, kVmAgentPort, 60000);
  ASSERT_TRUE(c.ok()) << c.error().str();
  const std::string ping = "ping over vsock\n";
  ASSERT_EQ(::send(c->get(), ping.data(), ping.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(ping.size()));
  std::string echo;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (echo.size() < ping.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{c->get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) continue;
    char buf[256];
    ssize_t n = ::recv(c->get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    echo.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(echo, ping);
}

}  // namespace
}  // namespace initos
