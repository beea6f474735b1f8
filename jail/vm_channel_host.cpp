#include "jail/vm_channel_host.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <climits>
#include <functional>

#include "base/file.h"

namespace initos {
inline namespace jail {
namespace {

using Clock = std::chrono::steady_clock;

// From <linux/vhost.h>, which pulls in virtio_ring.h (not valid C++).
constexpr unsigned long kVhostVsockSetGuestCid = _IOW(0xAF, 0x60, uint64_t);

// Milliseconds left until `deadline` (0 once passed).
int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// poll(2) on one fd until `events` or the deadline; false on timeout.
Result<bool> WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, MsLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "vm channel: poll";
    return n > 0;
  }
}

Result<void> SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return ErrnoError() << "vm channel: fcntl O_NONBLOCK";
  return {};
}

Result<unique_fd> VsockSocket() {
  unique_fd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.ok())
    return ErrnoError() << "socket(AF_VSOCK): this kernel has no vsock (host: modprobe "
                           "vhost_vsock; guest: virtio vsock transport)";
  return s;
}

sockaddr_vm VsockAddress(uint32_t cid, uint32_t port) {
  sockaddr_vm a{};
  a.svm_family = AF_VSOCK;
  a.svm_cid = cid;
  a.svm_port = port;
  return a;
}

// Appends everything that can be written now from `pending` to fd.
Result<void> FlushSome(int fd, std::string& pending) {
  while (!pending.empty()) {
    ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    if (n < 0) return ErrnoError() << "vm channel: send to the guest agent";
    pending.erase(0, static_cast<size_t>(n));
  }
  return {};
}

// Blocking write of a whole buffer to a local fd (the caller's stdout or
// stderr), waiting out EAGAIN on a non-blocking one.
Result<void> WriteOut(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      (void)::poll(&p, 1, -1);
      continue;
    }
    if (n < 0) return ErrnoError() << "vm exec: write the guest's output";
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> Queue(std::string& pending, VmFrameType type, std::string payload) {
  auto f = EncodeVmFrame(VmFrame{type, std::move(payload)});
  if (!f.ok()) return f.error();
  pending += *f;
  return {};
}

// Reads what is there from the agent into `buffer`; false at end of stream.
Result<bool> ReadAgent(int fd, std::string& buffer) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0) return ErrnoError() << "vm channel: read from the guest agent";
    if (n == 0) return false;
    buffer.append(buf, static_cast<size_t>(n));
    return true;
  }
}

// Chunks of the caller's stdin per kStdin frame.
constexpr size_t kStdinChunk = 16384;
static_assert(kStdinChunk <= kVmFrameMaxPayload);

}  // namespace

Result<unique_fd> ListenReady(uint32_t port) {
  auto s = VsockSocket();
  if (!s.ok()) return s.error();
  sockaddr_vm a = VsockAddress(VMADDR_CID_ANY, port);
  if (::bind(s->get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return ErrnoError() << "bind vsock port " << port
                        << " (another supervisor listening? only one per host)";
  if (::listen(s->get(), 16) != 0) return ErrnoError() << "listen on vsock port " << port;
  return s;
}

Result<VmReady> ReadReadyLine(int fd, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string line;
  while (line.empty() || line.back() != '\n') {
    if (line.size() >= kVmReadyLineMax)
      return Err() << "vm channel: ready line longer than " << kVmReadyLineMax << " bytes";
    auto ready = WaitFor(fd, POLLIN, deadline);
    if (!ready.ok()) return ready.error();
    if (!*ready)
      return Err() << "vm channel: no complete READY line within " << timeout_ms
                   << " ms; the guest's initos is not speaking the protocol";
    char c[kVmReadyLineMax];
    // Never past the newline's maximum position: the rest is not ours.
    ssize_t n = ::read(fd, c, kVmReadyLineMax - line.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoError() << "vm channel: read the READY line";
    if (n == 0) return Err() << "vm channel: the guest closed before a complete READY line";
    line.append(c, static_cast<size_t>(n));
    if (size_t nl = line.find('\n'); nl != std::string::npos && nl + 1 != line.size())
      return Err() << "vm channel: bytes after the READY line";
  }
  return DecodeVmReady(line);
}

Result<std::optional<VsockConnection>> AcceptVsock(int listen_fd) {
  for (;;) {
    sockaddr_vm peer{};
    socklen_t len = sizeof peer;
    unique_fd c(::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len,
                          SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (c.ok()) {
      if (peer.svm_family != AF_VSOCK) return Err() << "vm channel: peer is not on vsock";
      return std::optional<VsockConnection>(VsockConnection{peer.svm_cid, std::move(c)});
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<VsockConnection>();
    return ErrnoError() << "vm channel: accept";
  }
}

Result<ReadyReport> AcceptReady(int listen_fd, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto c = AcceptVsock(listen_fd);
    if (!c.ok()) return c.error();
    if (c->has_value()) {
      VsockConnection& conn = **c;
      auto r = ReadReadyLine(conn.fd.get(), MsLeft(deadline));
      if (!r.ok()) return Err() << "guest CID " << conn.cid << ": " << r.error().str();
      return ReadyReport{conn.cid, std::move(*r)};
    }
    auto ready = WaitFor(listen_fd, POLLIN, deadline);
    if (!ready.ok()) return ready.error();
    if (!*ready) return Err() << "vm channel: no guest connected within " << timeout_ms << " ms";
  }
}

Result<unique_fd> ConnectAgent(uint32_t cid, uint32_t port, int timeout_ms) {
  auto s = VsockSocket();
  if (!s.ok()) return s.error();
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  sockaddr_vm a = VsockAddress(cid, port);
  if (::connect(s->get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno != EINPROGRESS && errno != EINTR)
      return ErrnoError() << "connect to the agent of guest CID " << cid << " port " << port;
    auto ready = WaitFor(s->get(), POLLOUT, deadline);
    if (!ready.ok()) return ready.error();
    if (!*ready)
      return Err() << "connect to the agent of guest CID " << cid << " port " << port
                   << ": no answer within " << timeout_ms << " ms (guest not up yet?)";
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(s->get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
      return ErrnoError() << "vm channel: getsockopt SO_ERROR";
    if (so_error != 0)
      return ErrnoErrorCode(so_error)
             << "connect to the agent of guest CID " << cid << " port " << port;
  }
  return s;
}

Result<int> RunGuestExec(int agent_fd, const std::vector<std::string>& argv, int in, int out,
                         int err) {
  if (argv.empty() || argv[0].empty()) return Err() << "vm exec: empty command";
  if (auto r = SetNonBlocking(agent_fd); !r.ok()) return r.error();
  std::string to_agent, from_agent;
  if (auto r = Queue(to_agent, VmFrameType::kExecArgv, EncodeVmArgv(argv)); !r.ok())
    return Err() << "vm exec: command line too long: " << r.error().str();
  bool in_open = in >= 0;
  if (!in_open) (void)Queue(to_agent, VmFrameType::kStdin, "");
  for (;;) {
    // Stdin is only read while nothing is waiting to go out, so a guest that
    // does not read its input holds the caller's input back (no unbounded
    // buffer).
    pollfd p[2] = {{agent_fd, static_cast<short>(POLLIN | (to_agent.empty() ? 0 : POLLOUT)), 0},
                   {in_open && to_agent.empty() ? in : -1, POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "vm exec: poll";
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      auto more = ReadAgent(agent_fd, from_agent);
      if (!more.ok()) return more.error();
      for (;;) {
        auto f = DecodeVmFrame(from_agent);
        if (!f.ok()) return f.error();
        if (!f->has_value()) break;
        VmFrame& frame = **f;
        switch (frame.type) {
          case VmFrameType::kStdout:
          case VmFrameType::kStderr: {
            int to = frame.type == VmFrameType::kStdout ? out : err;
            if (to < 0) break;
            if (auto w = WriteOut(to, frame.payload); !w.ok()) return w.error();
            break;
          }
          case VmFrameType::kExit:
            return DecodeVmExit(frame.payload);
          default:
            return Err() << "vm exec: unexpected frame type '" << static_cast<char>(frame.type)
                         << "' from the guest agent";
        }
      }
      if (!*more)
        return Err() << "vm exec: the guest agent closed the connection before the exit status"
                     << (from_agent.empty() ? "" : " (in the middle of a frame)");
    }
    if (p[0].revents & POLLOUT) {
      if (auto r = FlushSome(agent_fd, to_agent); !r.ok()) return r.error();
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[kStdinChunk];
      ssize_t got = ::read(in, buf, sizeof buf);
      if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (got < 0) return ErrnoError() << "vm exec: read stdin";
      if (got == 0) in_open = false;
      (void)Queue(to_agent, VmFrameType::kStdin, std::string(buf, static_cast<size_t>(got)));
      if (auto r = FlushSome(agent_fd, to_agent); !r.ok()) return r.error();
    }
  }
}

Result<int> RequestGuestPoweroffOn(int agent_fd, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (auto r = SetNonBlocking(agent_fd); !r.ok()) return r.error();
  std::string to_agent, from_agent;
  (void)Queue(to_agent, VmFrameType::kPoweroff, "");
  while (!to_agent.empty()) {
    auto ready = WaitFor(agent_fd, POLLOUT, deadline);
    if (!ready.ok()) return ready.error();
    if (!*ready) return Err() << "vm poweroff: the guest agent took no request in time";
    if (auto r = FlushSome(agent_fd, to_agent); !r.ok()) return r.error();
  }
  for (;;) {
    auto ready = WaitFor(agent_fd, POLLIN, deadline);
    if (!ready.ok()) return ready.error();
    if (!*ready)
      return Err() << "vm poweroff: no answer from the guest agent within " << timeout_ms << " ms";
    auto more = ReadAgent(agent_fd, from_agent);
    if (!more.ok()) return more.error();
    auto f = DecodeVmFrame(from_agent);
    if (!f.ok()) return f.error();
    if (f->has_value()) {
      if ((*f)->type != VmFrameType::kExit)
        return Err() << "vm poweroff: unexpected frame from the guest agent";
      return DecodeVmExit((*f)->payload);
    }
    if (!*more) return Err() << "vm poweroff: the guest agent closed without an answer";
  }
}

Result<int> RequestGuestPoweroff(uint32_t cid, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto c = ConnectAgent(cid, kVmAgentPort, timeout_ms);
  if (!c.ok()) return c.error();
  return RequestGuestPoweroffOn(c->get(), MsLeft(deadline));
}

int GuestStatusToExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return kGuestExecChannelFailed;
}

namespace {

// Forks a child for a channel request: default signals (SIGPIPE ignored:
// a closed output is an error value, not a death), `fds` dup'ed onto 0/1/2
// (-1: closed) and every other fd closed; the child exits with run()'s
// value. The supervisor's state is only a copy in there.
Result<pid_t> ForkChannelChild(std::array<int, 3> fds, const std::function<int()>& run) {
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError() << "vm channel: fork";
  if (pid > 0) return pid;
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
  ::signal(SIGPIPE, SIG_IGN);
  // Out of the 0..2 range first, so one dup2 cannot clobber another source.
  for (int& fd : fds)
    if (fd >= 0) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0)
      ::dup2(fds[i], i);
    else
      ::close(i);
  }
  ::close_range(3, ~0U, 0);
  ::_exit(run());
}

void ReportOnStderr(const std::string& what, const Error& e) {
  std::string line = "initos: " + what + ": " + e.str() + "\n";
  (void)!::write(2, line.data(), line.size());
}

}  // namespace

Result<pid_t> SpawnGuestExec(uint32_t cid, const std::vector<std::string>& argv, int in, int out,
                             int err) {
  return ForkChannelChild({in, out, err}, [&]() {
    auto status = [&]() -> Result<int> {
      auto c = ConnectAgent(cid, kVmAgentPort, 5000);
      if (!c.ok()) return c.error();
      return RunGuestExec(c->get(), argv, in >= 0 ? 0 : -1, out >= 0 ? 1 : -1, err >= 0 ? 2 : -1);
    }();
    if (!status.ok()) {
      if (err >= 0) ReportOnStderr("jail exec in the VM", status.error());
      return kGuestExecChannelFailed;
    }
    return GuestStatusToExitCode(*status);
  });
}

Result<pid_t> SpawnGuestPoweroff(uint32_t cid, int timeout_ms) {
  return ForkChannelChild({-1, -1, 2}, [=]() {
    auto st = RequestGuestPoweroff(cid, timeout_ms);
    if (!st.ok()) {
      ReportOnStderr("power off guest CID " + std::to_string(cid), st.error());
      return 1;
    }
    return *st == 0 ? 0 : 1;
  });
}

uint32_t VmCidAllocator::Allocate() {
  if (!released_.empty()) {
    uint32_t cid = *released_.begin();
    released_.erase(released_.begin());
    ours_.insert(cid);
    return cid;
  }
  for (;;) {
    uint32_t cid = next_++;
    if (next_ == VMADDR_CID_ANY || next_ <= VMADDR_CID_HOST) next_ = VMADDR_CID_HOST + 1;
    if (cid <= VMADDR_CID_HOST || cid == VMADDR_CID_ANY) continue;
    if (ours_.count(cid) || foreign_.count(cid)) continue;
    ours_.insert(cid);
    return cid;
  }
}

void VmCidAllocator::Release(uint32_t cid) {
  if (ours_.erase(cid)) released_.insert(cid);
}

uint32_t VmCidAllocator::InUseElsewhere(uint32_t cid) {
  ours_.erase(cid);
  released_.erase(cid);
  foreign_.insert(cid);
  return Allocate();
}

Result<VhostVsock> OpenVhostVsock(VmCidAllocator& cids, const std::string& device) {
  auto fd = OpenFile(device, O_RDWR);
  if (!fd.ok())
    return Err() << "open " << device << ": " << fd.error().str()
                 << " (load the vhost_vsock module, or set vsock = false)";
  uint32_t cid = cids.Allocate();
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint64_t cid64 = cid;
    if (::ioctl(fd->get(), kVhostVsockSetGuestCid, &cid64) == 0)
      return VhostVsock{std::move(*fd), cid};
    if (errno != EADDRINUSE) {
      Error e = ErrnoError() << "VHOST_VSOCK_SET_GUEST_CID " << cid << " on " << device;
      cids.Release(cid);
      return e;
    }
    cid = cids.InUseElsewhere(cid);
  }
  cids.Release(cid);
  return Err() << "vhost-vsock: 64 guest CIDs in a row are in use by other VMs; stop some";
}

}  // namespace jail
}  // namespace initos
