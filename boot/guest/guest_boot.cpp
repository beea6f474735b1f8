#include "boot/guest/guest_boot.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/unique_fd.h"
#include "boot/guest/guest_agent.h"
#include "format/vm_channel.h"

namespace initos {
inline namespace boot {
namespace {

// The agent finds these where its arguments say.
constexpr int kAgentListenFd = 3;
constexpr int kAgentMountNsFd = 4;

Result<unique_fd> ListenVsock(uint32_t port) {
  unique_fd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok())
    return ErrnoError() << "vsock socket (load vsock and vmw_vsock_virtio_transport, and give the "
                           "VM a vhost-vsock device)";
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = port;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return ErrnoError() << "bind vsock port " << port;
  if (::listen(fd.get(), 16) != 0) return ErrnoError() << "listen on vsock port " << port;
  return fd;
}

}  // namespace

Result<pid_t> StartGuestAgent(const std::string& root) {
  auto listener = ListenVsock(kVmAgentPort);
  if (!listener.ok()) return Wrap(listener.error(), "agent");
  auto ns = OpenFile(PathUnderRoot(root, "/proc/self/ns/mnt"), O_RDONLY);
  if (!ns.ok()) return Wrap(ns.error(), "agent: PID 1's mount namespace");
  auto null = OpenFile(PathUnderRoot(root, "/dev/null"), O_RDWR);
  auto kmsg = OpenFile(PathUnderRoot(root, "/dev/kmsg"), O_WRONLY);
  SpawnOptions so;
  // PID 1's own binary: /init, deleted by the handover, runs on from memory.
  so.argv = {"/proc/self/exe", kGuestAgentCommand,
             "--listen-fd",    std::to_string(kAgentListenFd),
             "--mount-ns-fd",  std::to_string(kAgentMountNsFd)};
  so.argv0 = kGuestAgentArgv0;
  so.new_session = true;  // no controlling terminal, own process group
  so.stdin_fd = null.ok() ? null->get() : -1;
  so.stdout_fd = kmsg.ok() ? kmsg->get() : -1;
  so.stderr_fd = kmsg.ok() ? kmsg->get() : -1;
  so.start_timeout = std::chrono::milliseconds(10000);
  int listen_fd = listener->get(), ns_fd = ns->get();
  // What close_other_fds does, but keeping the two fds the agent needs.
  so.steps.push_back({"hand the agent its fds", [listen_fd, ns_fd]() -> Result<void> {
                        // Above 4 first: either may itself be 3 or 4.
                        int l = ::fcntl(listen_fd, F_DUPFD, 10);
                        int n = ::fcntl(ns_fd, F_DUPFD, 10);
                        if (l < 0 || n < 0) return ErrnoError() << "dup";
                        if (::dup2(l, kAgentListenFd) < 0 || ::dup2(n, kAgentMountNsFd) < 0)
                          return ErrnoError() << "dup2";
                        if (::close_range(kAgentMountNsFd + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
                          return ErrnoError() << "close_range";
                        return {};
                      }});
  return Spawn(so);
}

Result<void> SendGuestReady(std::string_view jail, uint64_t version, uint32_t cid, uint32_t port,
                            std::chrono::milliseconds timeout) {
  unique_fd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) return ErrnoError() << "vsock socket";
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  // Bounds connect (a host that never answers) and the write.
  (void)::setsockopt(fd.get(), AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return ErrnoError() << "connect to vsock CID " << cid << " port " << port;
  std::string line = EncodeVmReady(jail, version);
  INITOS_TRY(WriteFully(fd.get(), line.data(), line.size()));
  ::shutdown(fd.get(), SHUT_WR);
  return {};
}

void StartGuestAgentIfEnabled(const Config& config, const std::string& root) {
  if (!config.guest.vsock) return;
  auto pid = StartGuestAgent(root);
  if (!pid.ok()) {
    LOG(Warning) << "guest: " << pid.error().str()
                 << "; continuing without the agent (no `initos jail exec`, stop by ACPI only)";
    return;
  }
  LOG(Info) << "guest: agent started (pid " << *pid << "), vsock port " << kVmAgentPort;
}

void ReportGuestReadyIfEnabled(const Config& config, uint64_t version) {
  if (!config.guest.vsock) return;
  auto r = SendGuestReady(config.guest.jail, version, kVmHostCid, kVmReadyPort);
  if (!r.ok()) {
    LOG(Warning) << "guest: READY not reported to the host: " << r.error().str() << "; booting on";
    return;
  }
  LOG(Info) << "guest: reported READY " << config.guest.jail << " " << version << " to the host";
}

}  // namespace boot
}  // namespace initos
