// The agent runs commands in the mount namespace it was handed (PID 1's in
// the guest), not in its own: a file mounted only in that namespace is what
// the command sees, from "/". Needs root (unshare, mount, setns).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "base/unique_fd.h"
#include "boot/guest/guest_agent.h"
#include "format/vm_channel.h"

namespace initos {
namespace {

TEST(GuestAgentRootTest, CommandsRunInTheHandedMountNamespace) {
  ASSERT_EQ(::geteuid(), 0u) << "root test";
  testutil::TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    // A namespace where dir holds a tmpfs with a marker file.
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("t", dir.path().c_str(), "tmpfs", 0, nullptr) != 0 ||
        !WriteStringToFile(dir / "marker", "only in the namespace\n").ok())
      ::_exit(1);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  unique_fd ns(
      ::open(("/proc/" + std::to_string(holder) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(ns.ok());
  EXPECT_NE(::access((dir / "marker").c_str(), F_OK), 0) << "visible outside the namespace";

  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  unique_fd host(sv[0]), guest(sv[1]);
  auto req = EncodeVmFrame(
      {VmFrameType::kExecArgv, EncodeVmArgv({"/bin/sh", "-c", "cat " + dir / "marker" + "; pwd"})});
  ASSERT_TRUE(req.ok());
  ASSERT_TRUE(WriteFully(host.get(), req->data(), req->size()).ok());
  AgentOptions o;
  o.mount_ns_fd = ns.get();
  auto r = ServeAgentConnection(guest.get(), o);
  guest.reset();
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  ASSERT_TRUE(r.ok()) << r.error().str();

  std::string buffer, out;
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(host.get(), chunk, sizeof(chunk))) > 0) buffer.append(chunk, n);
  int status = -1;
  for (;;) {
    auto f = DecodeVmFrame(buffer);
    ASSERT_TRUE(f.ok());
    if (!*f) break;
    if ((*f)->type == VmFrameType::kStdout) out += (*f)->payload;
    if ((*f)->type == VmFrameType::kExit) status = *DecodeVmExit((*f)->payload);
  }
  EXPECT_EQ(out, "only in the namespace\n/\n");
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace initos
