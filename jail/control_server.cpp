#include "jail/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "jail/control_protocol.h"

namespace initos {
inline namespace jail {
namespace {

constexpr size_t kMaxRequest = 64 * 1024;
constexpr size_t kMaxPendingOutput = 1024 * 1024;

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) return Err() << "socket path too long: " << path;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

}  // namespace

struct JailControlServer::Client {
  unique_fd fd;
  JailPeer peer;
  std::string in;        // bytes received, frames not yet handled
  std::string out;       // bytes not yet sent
  bool handled = false;  // the request frame has been taken
  std::string follow;    // logs -f / console: this jail's output is relayed
  bool console = false;
  bool close_after_send = false;
};

JailControlServer::JailControlServer(JailSupervisor& jails, Supervision& loop)
    : jails_(jails), loop_(loop) {
  listener_ = jails_.AddOutputListener(
      [this](const std::string& name, std::string_view data) { OnOutput(name, data); });
}

JailControlServer::~JailControlServer() {
  jails_.RemoveOutputListener(listener_);
  for (auto& [fd, c] : clients_) loop_.UnwatchFd(fd);
  if (listen_fd_.ok()) {
    loop_.UnwatchFd(listen_fd_.get());
    ::unlink(path_.c_str());
  }
}

Result<void> JailControlServer::Listen(const std::string& path) {
  auto addr = Address(path);
  if (!addr.ok()) return addr.error();
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) INITOS_TRY(MakeDirs(dir, 0755));
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.ok()) return ErrnoError() << "socket";
  ::unlink(path.c_str());  // a stale socket of an earlier run
  // Bind with a tight umask, then open it up to the read group: no window
  // in which anyone else can connect.
  mode_t old = ::umask(0177);
  int r = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr));
  ::umask(old);
  if (r != 0) return ErrnoError() << "bind " << path;
  int64_t group = jails_.config().read_group;
  if (group >= 0) {
    if (::chown(path.c_str(), 0, static_cast<gid_t>(group)) != 0 ||
        ::chmod(path.c_str(), 0660) != 0)
      return ErrnoError() << "chown/chmod " << path;
  }
  if (::listen(fd.get(), 16) != 0) return ErrnoError() << "listen " << path;
  listen_fd_ = std::move(fd);
  path_ = path;
  loop_.WatchFd(listen_fd_.get(), POLLIN, [this](short) {
    Accept();
    return false;
  });
  return {};
}

void JailControlServer::Accept() {
  for (;;) {
    unique_fd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.ok()) return;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;
    auto c = std::make_unique<Client>();
    c->peer.uid = cred.uid;
    c->peer.gid = cred.gid;
    auto status = ReadFileToString("/proc/" + std::to_string(cred.pid) + "/status");
    if (status.ok()) c->peer.groups = ParseStatusGroups(*status);
    int raw = fd.get();
    c->fd = std::move(fd);
    Client* cp = c.get();
    clients_[raw] = std::move(c);
    WatchClient(*cp, POLLIN);
  }
}

void JailControlServer::Close(int fd) {
  loop_.UnwatchFd(fd);
  clients_.erase(fd);
}

void JailControlServer::OnReadable(Client& c) {
  char buf[8192];
  char control[CMSG_SPACE(3 * sizeof(int))];
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(c.fd.get(), &msg, MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  std::vector<unique_fd> fds;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if (n <= 0) return Close(c.fd.get());
  c.in.append(buf, static_cast<size_t>(n));
  if (c.in.size() > kMaxRequest) return Close(c.fd.get());
  int fd = c.fd.get();
  // Input typed into a console still reaches the jail when the client hung
  // up right after sending it (a pipe on its stdin): the target is kept
  // here, not in the client that a failed reply may have closed.
  std::string console = c.console ? c.follow : "";
  for (DecodedFrame& f : TakeFrames(c.in)) {
    if (f.type == 'r' && !c.handled) {
      c.handled = true;
      console = Handle(c, f.payload, std::move(fds));
      if (!clients_.count(fd) && console.empty()) return;
    } else if (f.type == 'i' && !console.empty()) {
      auto w = jails_.WriteConsole(console, f.payload);
      if (!w.ok()) LOG(Warning) << w.error().str();
    }
  }
}

std::string JailControlServer::Handle(Client& c, const std::string& bytes,
                                      std::vector<unique_fd> fds) {
  Dispatch(c, bytes, std::move(fds));
  return console_;
}

void JailControlServer::Dispatch(Client& c, const std::string& bytes, std::vector<unique_fd> fds) {
  console_.clear();
  auto fail = [&](const std::string& line) {
    Send(c, Frame('e', line) + ExitFrame(1));
    c.close_after_send = true;
    Send(c, "");
  };
  auto req = DecodeRequest(bytes);
  if (!req.ok()) return fail(req.error().str());
  auto allowed = AuthorizeRequest(*req, c.peer, jails_.config().read_group);
  if (!allowed.ok()) {
    LOG(Notice) << "jail control: uid " << c.peer.uid << " refused: " << allowed.error().str();
    return fail(allowed.error().str());
  }
  if (req->verb != JailVerb::kList && !jails_.Exists(req->name))
    return fail("no jail named \"" + req->name + "\"; see `initos jail list`");
  auto done = [&](const Result<void>& r, const std::string& ok_text) {
    if (!r.ok()) return fail(r.error().str());
    Send(c, Frame('o', ok_text) + ExitFrame(0));
    c.close_after_send = true;
    Send(c, "");
  };
  switch (req->verb) {
    case JailVerb::kList:
      return done({}, jails_.ListText());
    case JailVerb::kStatus: {
      auto s = jails_.StatusText(req->name);
      return s.ok() ? done({}, *s) : fail(s.error().str());
    }
    case JailVerb::kLogs: {
      auto text = jails_.LogText(req->name);
      if (!text.ok()) return fail(text.error().str());
      if (!req->follow) return done({}, *text);
      Send(c, Frame('o', *text));
      c.follow = req->name;
      return;
    }
    case JailVerb::kConsole:
      c.follow = req->name;
      c.console = true;
      console_ = req->name;  // before Send: it may close a client that hung up
      Send(c, Frame('o', "[attached to " + req->name + "'s console; end input to detach]\n"));
      return;
    case JailVerb::kStart:
      return done(jails_.Start(req->name), "");
    case JailVerb::kStop:
      return done(jails_.Stop(req->name), "");
    case JailVerb::kRestart:
      return done(jails_.Restart(req->name), "");
    case JailVerb::kExec: {
      if (fds.size() != 3) return fail("exec needs the client's stdin, stdout and stderr");
      int fd = c.fd.get();
      auto pid = jails_.Exec(
          req->name, req->argv, fds[0].get(), fds[1].get(), fds[2].get(), [this, fd](int status) {
            auto it = clients_.find(fd);
            if (it == clients_.end()) return;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            it->second->close_after_send = true;
            Send(*it->second, ExitFrame(code));
          });
      if (!pid.ok()) return fail(pid.error().str());
      return;  // the exit frame follows when it ends; the fds are the child's now
    }
  }
}

void JailControlServer::Send(Client& c, const std::string& bytes) {
  c.out += bytes;
  int fd = c.fd.get();
  while (!c.out.empty()) {
    ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return Close(fd);
    c.out.erase(0, static_cast<size_t>(n));
  }
  if (c.out.size() > kMaxPendingOutput) return Close(fd);  // a client that stopped reading
  if (c.out.empty() && c.close_after_send) return Close(fd);
  WatchClient(c, c.out.empty() ? POLLIN : (POLLIN | POLLOUT));
}

// POLLOUT only while replies wait to be sent; a handler may close the client.
void JailControlServer::WatchClient(Client& c, short events) {
  int fd = c.fd.get();
  loop_.WatchFd(fd, events, [this, cp = &c, fd](short revents) {
    if (revents & POLLOUT) Send(*cp, "");
    if (!clients_.count(fd)) return false;
    if (revents & (POLLIN | POLLHUP | POLLERR)) OnReadable(*cp);
    return false;
  });
}

void JailControlServer::OnOutput(const std::string& name, std::string_view data) {
  std::vector<Client*> targets;
  for (auto& [fd, c] : clients_)
    if (c->follow == name) targets.push_back(c.get());
  for (Client* c : targets) Send(*c, Frame('o', data));
}

// ---- client -------------------------------------------------------------------

int RunJailClient(const std::string& socket_path, const JailRequest& request) {
  auto addr = Address(socket_path);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!addr.ok() || !fd.ok() ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    std::fprintf(stderr,
                 "initos jail: cannot reach the jail supervisor at %s: %s (is this machine in "
                 "jail mode, or `initos jail run` running?)\n",
                 socket_path.c_str(), std::strerror(errno));
    return 1;
  }
  std::string frame = Frame('r', EncodeRequest(request));
  iovec iov{frame.data(), frame.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  char control[CMSG_SPACE(3 * sizeof(int))] = {};
  if (request.verb == JailVerb::kExec) {
    int stdio[3] = {0, 1, 2};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(stdio));
    std::memcpy(CMSG_DATA(cm), stdio, sizeof(stdio));
  }
  if (::sendmsg(fd.get(), &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) {
    std::fprintf(stderr, "initos jail: sending the request: %s\n", std::strerror(errno));
    return 1;
  }
  std::string buf;
  bool stdin_open = request.verb == JailVerb::kConsole;
  for (;;) {
    pollfd p[2] = {{fd.get(), POLLIN, 0}, {0, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
    if (::poll(p, stdin_open ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (stdin_open && (p[1].revents & (POLLIN | POLLHUP))) {
      char in[4096];
      ssize_t n = ::read(0, in, sizeof(in));
      if (n <= 0) return 0;  // end of input: detach from the console
      std::string f = Frame('i', std::string_view(in, static_cast<size_t>(n)));
      if (::send(fd.get(), f.data(), f.size(), MSG_NOSIGNAL) < 0) return 1;
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char chunk[8192];
    ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n <= 0) {
      std::fputs("initos jail: the supervisor closed the connection\n", stderr);
      return 1;
    }
    buf.append(chunk, static_cast<size_t>(n));
    for (const DecodedFrame& f : TakeFrames(buf)) {
      if (f.type == 'o') {
        std::fwrite(f.payload.data(), 1, f.payload.size(), stdout);
        std::fflush(stdout);
      } else if (f.type == 'e') {
        std::fprintf(stderr, "initos jail: %s\n", f.payload.c_str());
      } else if (f.type == 'x' && f.payload.size() == 4) {
        uint32_t code = 0;
        for (int i = 0; i < 4; ++i) code |= uint32_t(uint8_t(f.payload[i])) << (8 * i);
        return static_cast<int>(code);
      }
    }
  }
}

}  // namespace jail
}  // namespace initos
