#include "boot/guest/guest_agent.h"

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/unique_fd.h"
#include "format/vm_channel.h"

namespace initos {
inline namespace boot {
namespace {

Result<void> SendFrame(int conn, VmFrameType type, std::string payload) {
  auto bytes = EncodeVmFrame(VmFrame{type, std::move(payload)});
  if (!bytes.ok()) return bytes.error();
  return WriteFully(conn, bytes->data(), bytes->size());
}

// Reads until one whole frame is in `buffer` (bytes beyond it stay there).
// timeout < 0 waits as long as it takes.
Result<std::optional<VmFrame>> ReadFrame(int conn, std::string& buffer, int timeout_ms) {
  for (;;) {
    auto frame = DecodeVmFrame(buffer);
    if (!frame.ok() || *frame) return frame;
    pollfd p{conn, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "agent: poll the connection";
    if (n == 0)
      return Err() << "agent: no request within "
                   << FormatTimeout(std::chrono::milliseconds(timeout_ms));
    char chunk[4096];
    ssize_t got = ::read(conn, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError() << "agent: read the connection";
    if (got == 0) return std::optional<VmFrame>();  // closed before a whole frame
    buffer.append(chunk, static_cast<size_t>(got));
  }
}

struct Pipe {
  unique_fd read, write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError() << "agent: pipe";
  return Pipe{unique_fd(fds[0]), unique_fd(fds[1])};
}

Result<pid_t> SpawnCommand(const std::vector<std::string>& argv, const AgentOptions& o,
                           int stdin_fd, int stdout_fd, int stderr_fd) {
  SpawnOptions so;
  so.argv = argv;
  so.env = o.env;
  so.stdin_fd = stdin_fd;
  so.stdout_fd = stdout_fd;
  so.stderr_fd = stderr_fd;
  so.new_session = true;  // its own process group: a dropped connection kills all of it
  so.close_other_fds = true;
  if (o.mount_ns_fd >= 0) {
    int ns = o.mount_ns_fd;
    // setns sets root and cwd to the topmost mount on the namespace's "/":
    // after the handover, the OS root PID 1 switched into.
    so.steps.push_back({"enter PID 1's mount namespace", [ns]() -> Result<void> {
                          if (::setns(ns, CLONE_NEWNS) != 0) return ErrnoError() << "setns";
                          if (::chdir("/") != 0) return ErrnoError() << "chdir /";
                          return {};
                        }});
  }
  return Spawn(so);
}

// Runs argv with its stdio relayed over conn until its stdout and stderr
// are closed; then the kExit frame. `buffer` holds bytes already read.
Result<void> RelayExec(int conn, std::string& buffer, const std::vector<std::string>& argv,
                       const AgentOptions& o) {
  auto in = MakePipe(), out = MakePipe(), err = MakePipe();
  if (!in.ok()) return in.error();
  if (!out.ok()) return out.error();
  if (!err.ok()) return err.error();
  auto pid = SpawnCommand(argv, o, in->read.get(), out->write.get(), err->write.get());
  in->read.reset();
  out->write.reset();
  err->write.reset();
  if (!pid.ok()) {
    (void)SendFrame(conn, VmFrameType::kStderr, "initos-agent: " + pid.error().str() + "\n");
    (void)SendFrame(conn, VmFrameType::kExit, EncodeVmExit(127 << 8));
    return pid.error();
  }
  // Never block on a child that does not read its stdin.
  ::fcntl(in->write.get(), F_SETFL, ::fcntl(in->write.get(), F_GETFL) | O_NONBLOCK);
  std::string pending;  // stdin bytes not yet written
  bool stdin_eof = false;
  bool conn_open = true;  // false once the host half-closed after its stdin EOF
  auto kill_child = [&] {
    ::kill(-*pid, SIGKILL);
    ::kill(*pid, SIGKILL);
    int status;
    while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
  };
  // The host's frames after the request: stdin data, an empty one for EOF.
  auto take_input = [&]() -> Result<void> {
    for (;;) {
      auto frame = DecodeVmFrame(buffer);
      if (!frame.ok()) return Wrap(frame.error(), "agent: request");
      if (!*frame) return {};
      if ((*frame)->type != VmFrameType::kStdin) continue;  // nothing else is meaningful now
      if ((*frame)->payload.empty())
        stdin_eof = true;
      else if (in->write.ok())
        pending += (*frame)->payload;
    }
  };
  // Frames that came with the request.
  if (auto r = take_input(); !r.ok()) {
    kill_child();
    return r.error();
  }
  while (out->read.ok() || err->read.ok()) {
    if (stdin_eof && pending.empty()) in->write.reset();
    pollfd p[4] = {{conn_open ? conn : -1, POLLIN, 0},
                   {out->read.get(), POLLIN, 0},
                   {err->read.get(), POLLIN, 0},
                   {pending.empty() ? -1 : in->write.get(), POLLOUT, 0}};
    if (::poll(p, 4, -1) < 0) {
      if (errno == EINTR) continue;
      kill_child();
      return ErrnoError() << "agent: poll";
    }
    if (p[0].fd >= 0 && p[0].revents) {
      char chunk[16384];
      ssize_t n = ::read(conn, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 && stdin_eof) {
        conn_open = false;  // a half-close after the input: still reading our output
        continue;
      }
      if (n <= 0) {
        // The host went away: nobody reads the output or the status.
        kill_child();
        return Err() << "agent: the host closed the connection while " << argv[0] << " ran";
      }
      buffer.append(chunk, static_cast<size_t>(n));
      if (auto r = take_input(); !r.ok()) {
        kill_child();
        return r.error();
      }
    }
    if (p[3].fd >= 0 && p[3].revents) {
      ssize_t n = ::write(in->write.get(), pending.data(), pending.size());
      if (n > 0) {
        pending.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        pending.clear();  // EPIPE: the command closed its stdin
        in->write.reset();
      }
    }
    for (auto [index, pipe, type] : {std::tuple{1, &out->read, VmFrameType::kStdout},
                                     std::tuple{2, &err->read, VmFrameType::kStderr}}) {
      if (!p[index].revents) continue;
      std::string chunk(kVmFrameMaxPayload, '\0');
      ssize_t n = ::read(pipe->get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        pipe->reset();
        continue;
      }
      chunk.resize(static_cast<size_t>(n));
      auto sent = SendFrame(conn, type, std::move(chunk));
      if (!sent.ok()) {
        kill_child();
        return Wrap(sent.error(), "agent: send output");
      }
    }
  }
  in->write.reset();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError() << "agent: wait for " << argv[0];
  }
  return SendFrame(conn, VmFrameType::kExit, EncodeVmExit(status));
}

// stderr is /dev/kmsg (PID 1 hands it over that way): log there with
// priorities, as PID 1 does.
void LogToKmsgIfStderrIsKmsg() {
  struct stat st {};
  if (::fstat(2, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 ||
      minor(st.st_rdev) != 11)
    return;
  int fd = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (fd >= 0) LogToKmsg(unique_fd(fd));
}

Result<int> FdArg(const std::vector<std::string>& args, size_t i) {
  if (i + 1 >= args.size()) return Err() << args[i] << " needs a file descriptor number";
  char* end = nullptr;
  long v = std::strtol(args[i + 1].c_str(), &end, 10);
  if (*end != '\0' || v < 0 || v > 1 << 20) return Err() << args[i] << ": bad fd " << args[i + 1];
  return static_cast<int>(v);
}

}  // namespace

Result<void> ServeAgentConnection(int conn, const AgentOptions& options) {
  // A command closing its stdin, or the host vanishing, is an error to
  // handle, not a signal that kills the agent.
  ::signal(SIGPIPE, SIG_IGN);
  std::string buffer;
  auto first = ReadFrame(conn, buffer, static_cast<int>(options.request_timeout.count()));
  if (!first.ok()) return first.error();
  if (!*first) return Err() << "agent: the host closed the connection before a request";
  const VmFrame& request = **first;
  if (request.type == VmFrameType::kPoweroff) {
    INITOS_TRY(SendFrame(conn, VmFrameType::kExit, EncodeVmExit(0)));
    LOG(Notice) << "agent: the host asks for poweroff";
    if (options.poweroff)
      options.poweroff();
    else
      PoweroffGuest();
    return {};
  }
  if (request.type != VmFrameType::kExecArgv)
    return Err() << "agent: the first frame must be an exec or poweroff request, not '"
                 << static_cast<char>(request.type) << "'";
  auto argv = DecodeVmArgv(request.payload);
  if (!argv.ok()) return Wrap(argv.error(), "agent: exec request");
  LOG(Info) << "agent: exec " << (*argv)[0] << " (" << argv->size() << " argument(s))";
  return RelayExec(conn, buffer, *argv, options);
}

void PoweroffGuest(std::chrono::milliseconds grace) {
  auto comm = ReadFileToString("/proc/1/comm");
  if (comm.ok() && (*comm == "systemd\n" || *comm == "systemd")) {
    // systemd's documented request for an orderly poweroff.
    if (::kill(1, SIGRTMIN + 4) == 0) return;
    LOG(Error) << "agent: SIGRTMIN+4 to systemd failed: " << std::strerror(errno);
  }
  ::kill(-1, SIGTERM);  // everything but PID 1 and us
  std::this_thread::sleep_for(grace);
  ::sync();
  ::reboot(RB_POWER_OFF);
  LOG(Error) << "agent: reboot(RB_POWER_OFF) failed: " << std::strerror(errno);
}

int RunGuestAgent(int listen_fd, const AgentOptions& options) {
  ::signal(SIGCHLD, SIG_IGN);  // connection children reap themselves
  ::signal(SIGPIPE, SIG_IGN);
  int failures = 0;
  for (;;) {
    sockaddr_vm peer{};
    socklen_t len = sizeof(peer);
    int c = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      LOG(Error) << "agent: accept: " << std::strerror(errno);
      // Not a listening socket: nothing will ever come.
      if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL) return 1;
      if (++failures > 100) return 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    unique_fd conn(c);
    // Only the host: a guest process reaching the port through a loopback
    // transport (CID 1) must not get root commands.
    if (peer.svm_family == AF_VSOCK && peer.svm_cid != VMADDR_CID_HOST) {
      LOG(Warning) << "agent: refused a connection from CID " << peer.svm_cid
                   << " (only the host, CID 2, is served)";
      continue;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      LOG(Error) << "agent: fork: " << std::strerror(errno);
      continue;
    }
    if (pid == 0) {
      ::signal(SIGCHLD, SIG_DFL);  // it waits for its command
      ::close(listen_fd);
      auto r = ServeAgentConnection(conn.get(), options);
      if (!r.ok()) LOG(Warning) << r.error().str();
      ::_exit(r.ok() ? 0 : 1);
    }
  }
}

int GuestAgentMain(const std::vector<std::string>& args) {
  int listen_fd = -1;
  AgentOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf(
          "usage: initos guest-agent --listen-fd N [--mount-ns-fd M]\n"
          "\n"
          "The VM jail guest's agent (started by PID 1 in the guest as %s):\n"
          "serves `initos jail exec` and poweroff requests of the host on the\n"
          "listening vsock socket N, running commands in the mount namespace M.\n",
          kGuestAgentArgv0);
      return 0;
    }
    if (args[i] != "--listen-fd" && args[i] != "--mount-ns-fd") {
      std::fprintf(stderr, "initos guest-agent: unknown argument '%s'\n", args[i].c_str());
      return 2;
    }
    auto fd = FdArg(args, i);
    if (!fd.ok()) {
      std::fprintf(stderr, "initos guest-agent: %s\n", fd.error().str().c_str());
      return 2;
    }
    (args[i] == "--listen-fd" ? listen_fd : options.mount_ns_fd) = *fd;
    ++i;
  }
  if (listen_fd < 0) {
    std::fprintf(stderr, "initos guest-agent: --listen-fd is required\n");
    return 2;
  }
  for (int fd : {listen_fd, options.mount_ns_fd})
    if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  LogToKmsgIfStderrIsKmsg();
  int ns = options.mount_ns_fd;
  options.poweroff = [ns] {
    // /proc/1/comm and reboot as the OS sees them.
    if (ns >= 0 && (::setns(ns, CLONE_NEWNS) != 0 || ::chdir("/") != 0))
      LOG(Warning) << "agent: cannot enter PID 1's mount namespace: " << std::strerror(errno);
    PoweroffGuest();
  };
  LOG(Info) << "agent: serving the host on vsock port " << kVmAgentPort;
  return RunGuestAgent(listen_fd, options);
}

}  // namespace boot
}  // namespace initos
