#include "boot/guest/guest_agent.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "base/unique_fd.h"
#include "format/vm_channel.h"

namespace initos {
namespace {

struct Pair {
  unique_fd host, guest;
};

Pair MakePair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return Pair{unique_fd(fds[0]), unique_fd(fds[1])};
}

void Send(int fd, VmFrameType type, std::string payload) {
  auto bytes = EncodeVmFrame(VmFrame{type, std::move(payload)});
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(WriteFully(fd, bytes->data(), bytes->size()).ok());
}

// Every frame the host end receives until the agent's end is closed.
std::vector<VmFrame> ReadAll(int fd) {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  std::vector<VmFrame> frames;
  for (;;) {
    auto f = DecodeVmFrame(buffer);
    EXPECT_TRUE(f.ok());
    if (!f.ok() || !*f) break;
    frames.push_back(**f);
  }
  EXPECT_TRUE(buffer.empty()) << "trailing bytes: " << buffer.size();
  return frames;
}

// The agent serves `requests` (already written) on its end, then closes it.
std::vector<VmFrame> Serve(const std::vector<VmFrame>& requests, const AgentOptions& options,
                           Result<void>* result = nullptr) {
  Pair p = MakePair();
  for (const auto& r : requests) Send(p.host.get(), r.type, r.payload);
  // Read while the agent writes: more output than the socket buffer holds
  // would block it otherwise.
  std::vector<VmFrame> frames;
  std::thread reader([&] { frames = ReadAll(p.host.get()); });
  Result<void> r = ServeAgentConnection(p.guest.get(), options);
  if (result) *result = r;
  p.guest.reset();
  reader.join();
  return frames;
}

VmFrame Exec(std::vector<std::string> argv) {
  return VmFrame{VmFrameType::kExecArgv, EncodeVmArgv(argv)};
}

// Output frames of one type, joined (a pipe may split them anyhow).
std::string Joined(const std::vector<VmFrame>& frames, VmFrameType type) {
  std::string s;
  for (const auto& f : frames)
    if (f.type == type) s += f.payload;
  return s;
}

TEST(GuestAgentTest, ExecRelaysOutputAndTheWaitStatus) {
  Result<void> r;
  auto frames = Serve(
      {Exec({"/bin/sh", "-c", "echo hi; echo oops >&2; exit 3"}), VmFrame{VmFrameType::kStdin, ""}},
      AgentOptions{}, &r);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(Joined(frames, VmFrameType::kStdout), "hi\n");
  EXPECT_EQ(Joined(frames, VmFrameType::kStderr), "oops\n");
  EXPECT_EQ(frames.back().type, VmFrameType::kExit);
  auto status = DecodeVmExit(frames.back().payload);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 3 << 8);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
}

TEST(GuestAgentTest, ExactFramesOfEchoHi) {
  auto frames = Serve({Exec({"/bin/sh", "-c", "echo hi; exit 3"})}, AgentOptions{});
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0], (VmFrame{VmFrameType::kStdout, "hi\n"}));
  EXPECT_EQ(frames[1], (VmFrame{VmFrameType::kExit, EncodeVmExit(3 << 8)}));
}

TEST(GuestAgentTest, StdinPassesThroughUntilEof) {
  // cat ends only when its stdin ends: the empty kStdin frame must close it.
  auto frames = Serve({Exec({"cat"}), VmFrame{VmFrameType::kStdin, "abc\n"},
                       VmFrame{VmFrameType::kStdin, "def"}, VmFrame{VmFrameType::kStdin, ""}},
                      AgentOptions{});
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(Joined(frames, VmFrameType::kStdout), "abc\ndef");
  EXPECT_EQ(frames.back(), (VmFrame{VmFrameType::kExit, EncodeVmExit(0)}));
}

TEST(GuestAgentTest, LargeOutputComesInFramesWithinTheLimit) {
  auto frames = Serve({Exec({"/bin/sh", "-c", "head -c 300000 /dev/zero"})}, AgentOptions{});
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(Joined(frames, VmFrameType::kStdout), std::string(300000, '\0'));
  for (const auto& f : frames) EXPECT_LE(f.payload.size(), kVmFrameMaxPayload);
  EXPECT_EQ(frames.back(), (VmFrame{VmFrameType::kExit, EncodeVmExit(0)}));
}

TEST(GuestAgentTest, SignalledCommandReportsItsSignal) {
  auto frames = Serve({Exec({"/bin/sh", "-c", "kill -KILL $$"})}, AgentOptions{});
  ASSERT_FALSE(frames.empty());
  auto status = DecodeVmExit(frames.back().payload);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST(GuestAgentTest, MissingProgramIs127WithAReason) {
  Result<void> r;
  auto frames = Serve({Exec({"/no/such/program"})}, AgentOptions{}, &r);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, VmFrameType::kStderr);
  EXPECT_NE(frames[0].payload.find("/no/such/program"), std::string::npos) << frames[0].payload;
  EXPECT_EQ(frames[1], (VmFrame{VmFrameType::kExit, EncodeVmExit(127 << 8)}));
}

TEST(GuestAgentTest, PoweroffRepliesBeforeActing) {
  Pair p = MakePair();
  Send(p.host.get(), VmFrameType::kPoweroff, "");
  bool called = false;
  std::string seen_before;
  AgentOptions o;
  o.poweroff = [&] {
    called = true;
    // The reply is already on its way when the poweroff starts.
    char buf[64];
    ssize_t n = ::recv(p.host.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) seen_before.assign(buf, static_cast<size_t>(n));
  };
  auto r = ServeAgentConnection(p.guest.get(), o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(called);
  std::string buffer = seen_before;
  auto f = DecodeVmFrame(buffer);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(*f);
  EXPECT_EQ(**f, (VmFrame{VmFrameType::kExit, EncodeVmExit(0)}));
}

TEST(GuestAgentTest, BadRequestsAreRefused) {
  Result<void> r;
  auto frames = Serve({VmFrame{VmFrameType::kStdout, "x"}}, AgentOptions{}, &r);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(frames.empty());
  // An exec request with an argv that does not decode.
  frames = Serve({VmFrame{VmFrameType::kExecArgv, "no-terminator"}}, AgentOptions{}, &r);
  EXPECT_FALSE(r.ok());
  // No request in time.
  AgentOptions quick;
  quick.request_timeout = std::chrono::milliseconds(100);
  frames = Serve({}, quick, &r);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("no request"), std::string::npos) << r.error().str();
}

TEST(GuestAgentTest, HostGoneKillsTheCommand) {
  Pair p = MakePair();
  Send(p.host.get(), VmFrameType::kExecArgv, EncodeVmArgv({"/bin/sleep", "100"}));
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    p.host.reset();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = ServeAgentConnection(p.guest.get(), AgentOptions{});
  closer.join();
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(GuestAgentTest, MainRefusesBadArguments) {
  EXPECT_EQ(GuestAgentMain({}), 2);
  EXPECT_EQ(GuestAgentMain({"--listen-fd"}), 2);
  EXPECT_EQ(GuestAgentMain({"--listen-fd", "x"}), 2);
  EXPECT_EQ(GuestAgentMain({"--bogus"}), 2);
}

// The real binary: `initos guest-agent` serves every connection of its
// listening socket (a unix one here: the host has no vsock loopback), each
// in its own child, so a slow command does not hold up another.
TEST(GuestAgentTest, TheAgentServesConnectionsConcurrently) {
  testutil::TempDir dir;
  const std::string path = dir / "agent.sock";
  unique_fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.ok());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    // dup2 onto itself would keep close-on-exec.
    if (listener.get() == 3)
      ::fcntl(3, F_SETFD, 0);
    else
      ::dup2(listener.get(), 3);
    ::execl(INITOS_BINARY, kGuestAgentArgv0, kGuestAgentCommand, "--listen-fd", "3", nullptr);
    ::_exit(127);
  }
  listener.reset();
  auto connect = [&] {
    unique_fd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return c;
  };
  unique_fd slow = connect(), fast = connect();
  Send(slow.get(), VmFrameType::kExecArgv, EncodeVmArgv({"/bin/sh", "-c", "sleep 2; echo slow"}));
  Send(fast.get(), VmFrameType::kExecArgv, EncodeVmArgv({"/bin/sh", "-c", "echo fast"}));
  auto start = std::chrono::steady_clock::now();
  auto fast_frames = ReadAll(fast.get());
  auto fast_took = std::chrono::steady_clock::now() - start;
  auto slow_frames = ReadAll(slow.get());
  ::kill(agent, SIGKILL);
  ::waitpid(agent, nullptr, 0);
  EXPECT_EQ(Joined(fast_frames, VmFrameType::kStdout), "fast\n");
  EXPECT_LT(fast_took, std::chrono::milliseconds(1500)) << "served one after the other";
  EXPECT_EQ(Joined(slow_frames, VmFrameType::kStdout), "slow\n");
  ASSERT_FALSE(slow_frames.empty());
  EXPECT_EQ(slow_frames.back(), (VmFrame{VmFrameType::kExit, EncodeVmExit(0)}));
}

}  // namespace
}  // namespace initos
