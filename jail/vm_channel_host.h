// The host (supervisor) end of the vsock channel to a VM jail's guest
// (format/vm_channel.h has the protocol). Two kinds of function:
//  - the AF_VSOCK ones (ListenReady, AcceptReady, ConnectAgent,
//    OpenVhostVsock), which need vsock in the kernel (vhost_vsock on the host);
//  - the relay and line readers on plain fds (ReadReadyLine, RunGuestExec,
//    RequestGuestPoweroffOn), which the unit tests run over socketpairs
//    against a fake agent.
//
// Wiring into the supervisor (H3 / lead; jail/supervisor.cpp, jail/vm.cpp):
//  * start:  VmCidAllocator cids_ (one per supervisor);
//            auto vh = OpenVhostVsock(cids_);  → VmResources.vhost_vsock_fd =
//            vh->fd.get(), guest_cid = vh->cid (the CID is already claimed on
//            that fd, so QEMU's own VHOST_VSOCK_SET_GUEST_CID cannot fail with
//            EADDRINUSE). Keep vh->fd open until QEMU has it; cids_.Release(cid)
//            when the VM is cleaned up.
//  * ready:  once per supervisor, ready_fd_ = ListenReady(kVmReadyPort); watch
//            it in the loop; on POLLIN: AcceptVsock(ready_fd_) → {cid, fd};
//            drop it unless cid is a running VM's (a guest cannot forge its
//            CID); watch fd and on POLLIN ReadReadyLine(fd, 100) (or simply
//            AcceptReady(ready_fd_, 200), which blocks the loop at most that
//            long per connection); log the jail name and version.
//  * exec:   in JailSupervisor::Exec, for a vm jail:
//              auto pid = SpawnGuestExec(j->guest_cid, argv, in, out, err);
//            then the same execs_/loop_.Watch bookkeeping as for containers:
//            the child's exit status is the guest command's (see
//            GuestStatusToExitCode).
//  * stop:   SpawnGuestPoweroff(cid, 5000) (a child, so a stuck guest does
//            not stall the loop; best effort, QMP system_powerdown too), then
//            SIGKILL QEMU after stop_timeout_ms.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/vm_channel.h"

namespace initos {
inline namespace jail {

// --- AF_VSOCK (needs vsock in the kernel) ---

// A listening AF_VSOCK stream socket on VMADDR_CID_ANY:port, close-on-exec
// and non-blocking (the supervisor polls it).
Result<unique_fd> ListenReady(uint32_t port = kVmReadyPort);

struct ReadyReport {
  uint32_t cid = 0;  // the peer's CID, as the kernel saw it
  VmReady ready;
};

struct VsockConnection {
  uint32_t cid = 0;  // the peer's CID
  unique_fd fd;      // non-blocking, close-on-exec
};

// Accepts one pending connection without waiting: nullopt when none is
// pending (EAGAIN).
Result<std::optional<VsockConnection>> AcceptVsock(int listen_fd);

// Accepts one connection (waiting at most timeout_ms for it) and reads its
// READY line (within the same deadline). A bad or missing line is an error;
// it never blocks past the deadline.
Result<ReadyReport> AcceptReady(int listen_fd, int timeout_ms);

// A connected AF_VSOCK stream socket to cid:port (non-blocking, close-on-exec),
// or an error after timeout_ms.
Result<unique_fd> ConnectAgent(uint32_t cid, uint32_t port = kVmAgentPort, int timeout_ms = 5000);

// Asks the guest's agent to power the guest off (kPoweroff) and waits at most
// timeout_ms for its kExit; returns that wait status (0 = the agent asked its
// PID 1 to power off).
Result<int> RequestGuestPoweroff(uint32_t cid, int timeout_ms);

// --- on plain fds (tests run these over socketpairs) ---

// Reads one READY line from fd (any socket or pipe) within timeout_ms; at
// most kVmReadyLineMax bytes, then DecodeVmReady.
Result<VmReady> ReadReadyLine(int fd, int timeout_ms);

// Runs argv through the agent connection `agent_fd` (made non-blocking
// here): sends kExecArgv, relays `in` as kStdin frames and its end as an
// empty kStdin (in < 0: no input, EOF at once), writes kStdout to `out` and
// kStderr to `err` (< 0: dropped), and returns the guest's wait status from
// kExit. The connection closing before kExit, a bad frame, or a failed
// write to out/err is an error.
Result<int> RunGuestExec(int agent_fd, const std::vector<std::string>& argv, int in, int out,
                         int err);

// kPoweroff over an open agent connection, then its kExit within timeout_ms.
Result<int> RequestGuestPoweroffOn(int agent_fd, int timeout_ms);

// The exit code a relay child reports for a guest wait status, as a shell
// would: exit code N → N, signal S → 128 + S.
int GuestStatusToExitCode(int wait_status);
// The relay child's exit code when the channel itself failed (like ssh).
inline constexpr int kGuestExecChannelFailed = 255;

// `initos jail exec` into a VM jail: forks a child that connects to the
// guest's agent on `cid`, relays in/out/err (dup'ed onto its 0/1/2, every
// other fd closed) and exits with GuestStatusToExitCode of the guest's
// status, or kGuestExecChannelFailed after writing one line to err. The
// caller reaps it like any exec child.
Result<pid_t> SpawnGuestExec(uint32_t cid, const std::vector<std::string>& argv, int in, int out,
                             int err);

// The stop request without blocking the caller: a child that does
// RequestGuestPoweroff(cid, timeout_ms) and exits 0 when the agent took it,
// 1 otherwise (one line on stderr). The caller reaps it.
Result<pid_t> SpawnGuestPoweroff(uint32_t cid, int timeout_ms);

// --- guest CIDs ---

// Hands out guest CIDs unique within this process. CIDs are global on the
// host and other VM managers take the low ones (libvirt starts at 3), so
// ours start higher; a CID the kernel says is taken (EADDRINUSE, by another
// process) is skipped for good.
class VmCidAllocator {
 public:
  static constexpr uint32_t kDefaultFirst = 3 + 1000;
  explicit VmCidAllocator(uint32_t first = kDefaultFirst) : next_(first) {}
  // The next free CID (never 0..2, never VMADDR_CID_ANY).
  uint32_t Allocate();
  // The VM using `cid` is gone; the CID may be handed out again.
  void Release(uint32_t cid);
  // The kernel refused `cid` (EADDRINUSE): keep it out of use in this
  // process and return the next one.
  uint32_t InUseElsewhere(uint32_t cid);

 private:
  uint32_t next_;
  std::set<uint32_t> ours_, foreign_, released_;
};

struct VhostVsock {
  unique_fd fd;  // /dev/vhost-vsock, its guest CID already set
  uint32_t cid = 0;
};

// Opens the vhost-vsock device and claims a CID from `cids` on it
// (VHOST_VSOCK_SET_GUEST_CID), trying the next CID on EADDRINUSE. QEMU gets
// the fd (vhostfd=) and sets the same CID again, which the kernel accepts.
Result<VhostVsock> OpenVhostVsock(VmCidAllocator& cids,
                                  const std::string& device = "/dev/vhost-vsock");

}  // namespace jail
}  // namespace initos
