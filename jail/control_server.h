// The jail control socket (jails.socket, under /run/initos): serves
// `initos jail ...` clients from the supervisor's own loop, one
// non-blocking connection each, authorized by SO_PEERCRED
// (jail/control_protocol.h). A slow or stuck client is dropped, never
// waited for: PID 1 must not block on a socket.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "base/result.h"
#include "base/supervision.h"
#include "base/unique_fd.h"
#include "jail/control_protocol.h"
#include "jail/supervisor.h"

namespace initos {
inline namespace jail {

class JailControlServer {
 public:
  JailControlServer(JailSupervisor& jails, Supervision& loop);
  ~JailControlServer();
  // Binds the socket (mode 0660, group jails.read-group when set), replacing
  // a stale one, and starts serving.
  Result<void> Listen(const std::string& path);

 private:
  struct Client;
  void Accept();
  void WatchClient(Client& c, short events);
  void OnReadable(Client& c);
  // Answers one request; returns the jail whose console the client
  // attached to ("" for other requests), valid even if the client is gone.
  std::string Handle(Client& c, const std::string& request, std::vector<unique_fd> fds);
  void Dispatch(Client& c, const std::string& request, std::vector<unique_fd> fds);
  void Send(Client& c, const std::string& bytes);
  void Close(int fd);
  void OnOutput(const std::string& name, std::string_view data);

  JailSupervisor& jails_;
  Supervision& loop_;
  unique_fd listen_fd_;
  std::string path_;
  std::map<int, std::unique_ptr<Client>> clients_;
  int listener_ = 0;
  std::string console_;  // Dispatch's console target
};

// Client side (`initos jail ...`): sends the request, relays the answer to
// stdout/stderr (and stdin to a console), returns the exit code.
int RunJailClient(const std::string& socket_path, const JailRequest& request);

}  // namespace jail
}  // namespace initos
