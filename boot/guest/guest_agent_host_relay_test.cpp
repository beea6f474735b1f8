// Both ends of the VM channel against each other, without a VM: the host's
// relay (jail/vm_channel_host.h) talks to the real guest agent
// (boot/guest/guest_agent.h) over a socketpair, and the agent runs real
// commands. The unit tests of each end use a fake of the other; this one
// catches a disagreement between them. (Guarded so that it builds before
// the guest agent is merged.)
#if __has_include("boot/guest/guest_agent.h")
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/file.h"
#include "boot/guest/guest_agent.h"
#include "jail/vm_channel_host.h"

namespace initos {
namespace {

// The agent's side of one connection, served in a thread as the agent's
// forked child would.
class AgentEnd {
 public:
  explicit AgentEnd(AgentOptions options = {}) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    host_.reset(sv[0]);
    guest_.reset(sv[1]);
    thread_ = std::thread([this, options] {
      result_ = ServeAgentConnection(guest_.get(), options);
      guest_.reset();
    });
  }
  ~AgentEnd() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  int host_fd() const { return host_.get(); }
  const Result<void>& result() const { return result_; }

 private:
  unique_fd host_, guest_;
  std::thread thread_;
  Result<void> result_;
};

struct Sink {
  unique_fd fd{::memfd_create("sink", MFD_CLOEXEC)};
  std::string Contents() const {
    ::lseek(fd.get(), 0, SEEK_SET);
    auto s = ReadFdToString(fd.get());
    return s.ok() ? *s : "<unreadable>";
  }
};

TEST(GuestAgentHostRelay, StdinStdoutStderrAndStatusGoThrough) {
  AgentEnd agent;
  Sink in, out, err;
  ASSERT_TRUE(WriteFully(in.fd.get(), "from the host\n", 14).ok());
  ::lseek(in.fd.get(), 0, SEEK_SET);
  auto st = RunGuestExec(agent.host_fd(), {"/bin/sh", "-c", "cat; echo oops >&2; exit 3"},
                         in.fd.get(), out.fd.get(), err.fd.get());
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 3);
  EXPECT_EQ(out.Contents(), "from the host\n");
  EXPECT_EQ(err.Contents(), "oops\n");
  agent.Join();
  EXPECT_TRUE(agent.result().ok()) << agent.result().error().str();
}

TEST(GuestAgentHostRelay, NoInputIsAnImmediateEofAndBigOutputArrivesWhole) {
  AgentEnd agent;
  Sink out;
  auto st = RunGuestExec(agent.host_fd(),
                         {"/bin/sh", "-c", "cat; head -c 1000000 /dev/zero; kill -TERM $$"}, -1,
                         out.fd.get(), -1);
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_TRUE(WIFSIGNALED(*st));
  EXPECT_EQ(GuestStatusToExitCode(*st), 128 + SIGTERM);
  EXPECT_EQ(out.Contents().size(), 1000000u);
}

TEST(GuestAgentHostRelay, MissingCommandIs127WithTheAgentsMessage) {
  AgentEnd agent;
  Sink err;
  auto st = RunGuestExec(agent.host_fd(), {"/nonexistent/cmd"}, -1, -1, err.fd.get());
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(GuestStatusToExitCode(*st), 127);
  EXPECT_NE(err.Contents().find("initos-agent"), std::string::npos) << err.Contents();
}

TEST(GuestAgentHostRelay, PoweroffIsAcknowledgedThenCarriedOut) {
  std::atomic<bool> powered_off{false};
  AgentOptions o;
  o.poweroff = [&] { powered_off = true; };
  AgentEnd agent(o);
  auto st = RequestGuestPoweroffOn(agent.host_fd(), 5000);
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(*st, 0);
  agent.Join();
  EXPECT_TRUE(powered_off);
}

}  // namespace
}  // namespace initos
#endif
