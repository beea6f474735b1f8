// The QMP client against a real QEMU (-machine none) holding the other end
// of a socketpair as `-chardev socket,fd=3`: the form VM jails use.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/spawn.h"
#include "base/sys/syscalls.h"
#include "jail/qmp.h"
#include "jail/testing/qemu_qmp.h"

namespace initos {
namespace {

TEST(QmpRoot, RealQemuHandshakeCommandsAndShutdownEvent) {
  ASSERT_EQ(::access("/usr/bin/qemu-system-x86_64", X_OK), 0) << "install qemu-system-x86";
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  unique_fd ours(sv[0]), theirs(sv[1]);
  SpawnOptions o;
  o.argv = testutil::QmpOnlyQemuArgv();
  o.inherit_fds = {theirs.get()};
  unique_fd pidfd;
  o.pidfd_out = &pidfd;
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  theirs.reset();
  QmpClient qmp(std::move(ours));
  auto h = qmp.Handshake(std::chrono::milliseconds(10000));
  ASSERT_TRUE(h.ok()) << h.error().str();
  auto status = qmp.Execute("query-status");
  EXPECT_TRUE(status.ok()) << status.error().str();
  auto bad = qmp.Execute("no-such-command");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("CommandNotFound"), std::string::npos) << bad.error().str();
  auto quit = qmp.Quit();
  EXPECT_TRUE(quit.ok()) << quit.error().str();
  auto ev = qmp.NextEvent(std::chrono::milliseconds(5000));
  ASSERT_TRUE(ev.ok()) << ev.error().str();
  ASSERT_TRUE(*ev);
  EXPECT_EQ((*ev)->event, "SHUTDOWN");
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "QEMU did not exit";
  int st = 0;
  ASSERT_EQ(::waitpid(*pid, &st, 0), *pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

}  // namespace
}  // namespace initos
