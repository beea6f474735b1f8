#include "jail/vm_channel_host.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "base/file.h"

namespace initos {
namespace {

// The guest agent's end, played by a thread on the other end of a socketpair.
class FakeAgent {
 public:
  explicit FakeAgent(std::function<void(int fd)> script) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    host_.reset(sv[0]);
    guest_.reset(sv[1]);
    thread_ = std::thread([this, script] {
      script(guest_.get());
      guest_.reset();
    });
  }
  ~FakeAgent() { thread_.join(); }
  int host_fd() const { return host_.get(); }

 private:
  unique_fd host_, guest_;
  std::thread thread_;
};

// Reads one frame (blocking); nullopt at end of stream or on a bad frame.
std::optional<VmFrame> ReadFrame(int fd, std::string& buffer) {
  for (;;) {
    auto f = DecodeVmFrame(buffer);
    if (!f.ok()) return std::nullopt;
    if (f->has_value()) return **f;
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffer.append(buf, static_cast<size_t>(n));
  }
}

void Send(int fd, VmFrameType type, const std::string& payload) {
  auto f = EncodeVmFrame(VmFrame{type, payload});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(WriteFully(fd, f->data(), f->size()).ok());
}

void SendRaw(int fd, const std::string& bytes) {
  ASSERT_TRUE(WriteFully(fd, bytes.data(), bytes.size()).ok());
}

// Collects everything the agent gets as stdin until the empty kStdin.
struct Received {
  std::vector<std::string> argv;
  std::string stdin_data;
  bool eof = false;
};
Received ReadRequest(int fd, std::string& buffer, bool until_eof) {
  Received r;
  auto first = ReadFrame(fd, buffer);
  if (!first || first->type != VmFrameType::kExecArgv) return r;
  if (auto a = DecodeVmArgv(first->payload); a.ok()) r.argv = *a;
  while (until_eof) {
    auto f = ReadFrame(fd, buffer);
    if (!f || f->type != VmFrameType::kStdin) break;
    if (f->payload.empty()) {
      r.eof = true;
      break;
    }
    r.stdin_data += f->payload;
  }
  return r;
}

// A memfd standing in for the caller's stdout/stderr, read back afterwards.
struct Sink {
  unique_fd fd{::memfd_create("sink", MFD_CLOEXEC)};
  std::string Contents() const {
    ::lseek(fd.get(), 0, SEEK_SET);
    auto s = ReadFdToString(fd.get());
    return s.ok() ? *s : "<unreadable>";
  }
};

TEST(RunGuestExec, RelaysStdoutStderrSeparatelyAndReturnsTheExitStatus) {
  Received got;
  FakeAgent agent([&](int fd) {
    std::string buf;
    got = ReadRequest(fd, buf, true);
    Send(fd, VmFrameType::kStdout, "hello ");
    Send(fd, VmFrameType::kStderr, "oops\n");
    Send(fd, VmFrameType::kStdout, "world\n");
    Send(fd, VmFrameType::kExit, EncodeVmExit(3 << 8));
  });
  Sink out, err;
  auto st =
      RunGuestExec(agent.host_fd(), {"/bin/sh", "-c", "echo hi"}, -1, out.fd.get(), err.fd.get());
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 3);
  EXPECT_EQ(out.Contents(), "hello world\n");
  EXPECT_EQ(err.Contents(), "oops\n");
  EXPECT_EQ(got.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_TRUE(got.eof) << "no input must reach the guest as an immediate EOF";
  EXPECT_EQ(got.stdin_data, "");
}

TEST(RunGuestExec, RelaysStdinAndItsEnd) {
  Received got;
  FakeAgent agent([&](int fd) {
    std::string buf;
    got = ReadRequest(fd, buf, true);
    Send(fd, VmFrameType::kStdout, got.stdin_data);
    Send(fd, VmFrameType::kExit, EncodeVmExit(0));
  });
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  unique_fd in(p[0]), writer(p[1]);
  ASSERT_TRUE(WriteFully(writer.get(), "line one\nline two\n", 18).ok());
  writer.reset();
  Sink out;
  auto st = RunGuestExec(agent.host_fd(), {"cat"}, in.get(), out.fd.get(), -1);
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(*st, 0);
  EXPECT_TRUE(got.eof);
  EXPECT_EQ(got.stdin_data, "line one\nline two\n");
  EXPECT_EQ(out.Contents(), "line one\nline two\n");
}

// The guest writes a lot before it reads any input while the caller pushes a
// lot of input: the relay must not deadlock on a full socket in either
// direction.
TEST(RunGuestExec, BigOutputAndBigInputAtOnceDoNotDeadlock) {
  const std::string input(3 << 20, 'i');
  const std::string chunk(60000, 'o');
  Received got;
  FakeAgent agent([&](int fd) {
    std::string buf;
    auto first = ReadFrame(fd, buf);
    for (int i = 0; i < 40; ++i) Send(fd, VmFrameType::kStdout, chunk);
    got = Received{};
    while (auto f = ReadFrame(fd, buf)) {
      if (f->type != VmFrameType::kStdin) break;
      if (f->payload.empty()) {
        got.eof = true;
        break;
      }
      got.stdin_data += f->payload;
    }
    Send(fd, VmFrameType::kExit, EncodeVmExit(0));
  });
  Sink in_file, out;
  ASSERT_TRUE(WriteFully(in_file.fd.get(), input.data(), input.size()).ok());
  ::lseek(in_file.fd.get(), 0, SEEK_SET);
  auto st = RunGuestExec(agent.host_fd(), {"cat"}, in_file.fd.get(), out.fd.get(), -1);
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_TRUE(got.eof);
  EXPECT_EQ(got.stdin_data.size(), input.size());
  EXPECT_EQ(out.Contents().size(), chunk.size() * 40);
}

TEST(RunGuestExec, SignalledGuestCommandMapsTo128PlusSignal) {
  FakeAgent agent([&](int fd) {
    std::string buf;
    (void)ReadRequest(fd, buf, false);
    Send(fd, VmFrameType::kExit, EncodeVmExit(SIGKILL));
  });
  auto st = RunGuestExec(agent.host_fd(), {"sleep", "9"}, -1, -1, -1);
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_TRUE(WIFSIGNALED(*st));
  EXPECT_EQ(GuestStatusToExitCode(*st), 128 + SIGKILL);
  EXPECT_EQ(GuestStatusToExitCode(7 << 8), 7);
}

TEST(RunGuestExec, PeerClosingBeforeTheExitIsAnError) {
  FakeAgent agent([&](int fd) {
    std::string buf;
    (void)ReadRequest(fd, buf, false);
    Send(fd, VmFrameType::kStdout, "partial");
  });
  Sink out;
  auto st = RunGuestExec(agent.host_fd(), {"x"}, -1, out.fd.get(), -1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("closed the connection before the exit status"),
            std::string::npos)
      << st.error().str();
  EXPECT_EQ(out.Contents(), "partial");
}

TEST(RunGuestExec, PeerClosingMidFrameIsAnError) {
  FakeAgent agent([&](int fd) {
    std::string buf;
    (void)ReadRequest(fd, buf, false);
    auto f = EncodeVmFrame(VmFrame{VmFrameType::kStdout, "0123456789"});
    SendRaw(fd, f->substr(0, 8));
  });
  Sink out;
  auto st = RunGuestExec(agent.host_fd(), {"x"}, -1, out.fd.get(), -1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("in the middle of a frame"), std::string::npos)
      << st.error().str();
  EXPECT_EQ(out.Contents(), "");
}

TEST(RunGuestExec, OversizedFrameIsAnErrorNotAnAllocation) {
  FakeAgent agent([&](int fd) {
    std::string buf;
    (void)ReadRequest(fd, buf, false);
    // 'O' with a length of 16 MiB, then keep the connection open: the
    // relay must give up on the header alone.
    SendRaw(fd, std::string("O\x01\x00\x00\x00", 5));
    pollfd p{fd, POLLIN, 0};
    (void)::poll(&p, 1, 1500);
  });
  auto start = std::chrono::steady_clock::now();
  auto st = RunGuestExec(agent.host_fd(), {"x"}, -1, -1, -1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("over the"), std::string::npos) << st.error().str();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
}

TEST(RunGuestExec, UnknownOrMisplacedFrameIsAnError) {
  FakeAgent agent([&](int fd) {
    std::string buf;
    (void)ReadRequest(fd, buf, false);
    Send(fd, VmFrameType::kExecArgv, EncodeVmArgv({"no"}));
  });
  auto st = RunGuestExec(agent.host_fd(), {"x"}, -1, -1, -1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("unexpected frame"), std::string::npos) << st.error().str();

  FakeAgent garbage([&](int fd) {
    std::string buf;
    (void)ReadRequest(fd, buf, false);
    SendRaw(fd, "Zjunk");
  });
  st = RunGuestExec(garbage.host_fd(), {"x"}, -1, -1, -1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("unknown frame type"), std::string::npos) << st.error().str();
}

TEST(RunGuestExec, RefusesAnEmptyCommand) {
  FakeAgent agent([](int) {});
  EXPECT_FALSE(RunGuestExec(agent.host_fd(), {}, -1, -1, -1).ok());
}

TEST(RequestGuestPoweroffOn, SendsPoweroffAndReturnsTheAnswer) {
  VmFrameType seen = VmFrameType::kStdout;
  FakeAgent agent([&](int fd) {
    std::string buf;
    if (auto f = ReadFrame(fd, buf)) seen = f->type;
    Send(fd, VmFrameType::kExit, EncodeVmExit(0));
  });
  auto st = RequestGuestPoweroffOn(agent.host_fd(), 2000);
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(*st, 0);
  EXPECT_EQ(seen, VmFrameType::kPoweroff);
}

TEST(RequestGuestPoweroffOn, SilentAgentTimesOut) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  unique_fd host(sv[0]), guest(sv[1]);
  auto start = std::chrono::steady_clock::now();
  auto st = RequestGuestPoweroffOn(host.get(), 200);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("no answer"), std::string::npos) << st.error().str();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// One end of a socketpair the test writes `bytes` to (then closes, unless
// keep_open) and the reader's end.
struct LinePair {
  unique_fd reader, writer;
  LinePair(const std::string& bytes, bool keep_open) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    reader.reset(sv[0]);
    writer.reset(sv[1]);
    EXPECT_TRUE(WriteFully(writer.get(), bytes.data(), bytes.size()).ok());
    if (!keep_open) writer.reset();
  }
};

TEST(ReadReadyLine, ReadsTheReadyLine) {
  LinePair p(EncodeVmReady("web", 42), false);
  auto r = ReadReadyLine(p.reader.get(), 1000);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (VmReady{"web", 42}));
}

TEST(ReadReadyLine, BadLinesAreErrors) {
  for (const std::string& bad :
       {std::string("HELLO web 1\n"), std::string("READY web x\n"), std::string("READY web\n"),
        std::string("READY web 1\nmore"), std::string("READY web 1")}) {
    LinePair p(bad, false);
    auto r = ReadReadyLine(p.reader.get(), 1000);
    EXPECT_FALSE(r.ok()) << bad;
  }
  LinePair long_line("READY " + std::string(400, 'a') + " 1\n", false);
  auto r = ReadReadyLine(long_line.reader.get(), 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("longer than"), std::string::npos) << r.error().str();
}

TEST(ReadReadyLine, AGuestThatNeverFinishesTheLineTimesOut) {
  LinePair p("READY web", true);
  auto start = std::chrono::steady_clock::now();
  auto r = ReadReadyLine(p.reader.get(), 200);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("no complete READY line"), std::string::npos) << r.error().str();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(VmCidAllocator, HandsOutUniqueCidsAndSkipsForeignOnes) {
  VmCidAllocator cids;
  uint32_t a = cids.Allocate(), b = cids.Allocate();
  EXPECT_EQ(a, VmCidAllocator::kDefaultFirst);
  EXPECT_EQ(b, a + 1);
  // b is taken by another VM manager: never ours again, the next is.
  uint32_t c = cids.InUseElsewhere(b);
  EXPECT_EQ(c, a + 2);
  cids.Release(a);
  EXPECT_EQ(cids.Allocate(), a) << "a released CID is reused before new ones";
  EXPECT_EQ(cids.Allocate(), a + 3);
  cids.Release(b);  // not ours: no effect
  EXPECT_EQ(cids.Allocate(), a + 4);
}

TEST(VmCidAllocator, NeverHandsOutReservedCids) {
  VmCidAllocator cids(0xfffffffe);
  EXPECT_EQ(cids.Allocate(), 0xfffffffeu);
  EXPECT_EQ(cids.Allocate(), 3u) << "wraps past VMADDR_CID_ANY and the reserved 0..2";
}

// Without a guest (and on a host without vsock at all) the relay child
// reports the channel failure on stderr and exits 255, never hangs.
TEST(SpawnGuestExec, ChannelFailureIsExit255WithOneLine) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  unique_fd err_r(p[0]), err_w(p[1]);
  auto pid = SpawnGuestExec(0xfffffff0, {"true"}, -1, -1, err_w.get());
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  err_w.reset();
  auto text = ReadFdToString(err_r.get());
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kGuestExecChannelFailed);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("jail exec in the VM"), std::string::npos) << *text;
}

TEST(SpawnGuestPoweroff, UnreachableGuestIsExit1WithinTheTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto pid = SpawnGuestPoweroff(0xfffffff0, 300);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace initos
