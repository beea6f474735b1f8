// The guest agent of a VM jail (issue 11, format/vm_channel.h): the
// '@initos-agent' process PID 1 starts in the guest before the switch-root
// handover. It listens on vsock port kVmAgentPort and serves the host one
// request per connection, each in a forked child so several run at once:
//   kExecArgv  runs the argv in PID 1's mount namespace (setns on an fd
//              PID 1 handed over, then chdir "/": the OS root after the
//              handover), relays stdin/stdout/stderr as frames and ends
//              with kExit and the wait status;
//   kPoweroff  replies kExit 0, then asks the OS to power off (systemd:
//              SIGRTMIN+4 to PID 1; otherwise SIGTERM to every process, a
//              short grace, sync, reboot(RB_POWER_OFF)).
// Only the host (peer CID 2) is served: a process inside the guest reaching
// the port through a loopback transport gets nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace boot {

inline constexpr char kGuestAgentArgv0[] = "@initos-agent";
inline constexpr char kGuestAgentCommand[] = "guest-agent";

struct AgentOptions {
  // >= 0: commands run after setns(fd, CLONE_NEWNS) and chdir("/") (PID
  // 1's namespace, whose top mount on "/" is the OS root after the
  // handover). -1: the agent's own root and namespace (tests).
  int mount_ns_fd = -1;
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb",
      "HOME=/root"};
  // How long the host may take to send its first frame.
  std::chrono::milliseconds request_timeout{30000};
  // kPoweroff, called after the kExit reply went out; the default is
  // PoweroffGuest(). Tests replace it.
  std::function<void()> poweroff;
};

// Serves one connection (a connected stream socket): reads the request and
// answers it as the header describes. Returns when the connection is done;
// an error for a malformed request or a command that cannot start (the host
// then sees a kStderr line and kExit with status 127 << 8 before the close).
Result<void> ServeAgentConnection(int conn, const AgentOptions& options);

// systemd as PID 1 (/proc/1/comm): SIGRTMIN+4 (its poweroff request).
// Anything else: SIGTERM to every process but PID 1 and the caller,
// `grace`, sync, reboot(RB_POWER_OFF). Returns only if that failed.
void PoweroffGuest(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

// The accept loop: one forked child per connection, children reaped by
// SIGCHLD = SIG_IGN. Never returns unless accept fails for good.
int RunGuestAgent(int listen_fd, const AgentOptions& options);

// `initos guest-agent --listen-fd N --mount-ns-fd M` (started by PID 1).
int GuestAgentMain(const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
