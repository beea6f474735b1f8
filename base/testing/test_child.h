// Test helper: run a function in a forked child (tests that change process
// state must not leak it into the test runner). Header-only so it is not part
// of initos_core.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace initos {

// Returns what fn returned ("" = success), or a description of how the child
// failed (crash, timeout after timeout_s).
inline std::string RunInChild(const std::function<std::string()>& fn, int timeout_s) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    std::string r = fn();
    if (r.empty()) r = "OK";
    (void)!::write(p[1], r.data(), r.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  pollfd pfd{p[0], POLLIN, 0};
  bool timed_out = false;
  for (;;) {
    int n = ::poll(&pfd, 1, timeout_s * 1000);
    if (n <= 0) {
      timed_out = true;
      break;
    }
    char buf[4096];
    ssize_t got = ::read(p[0], buf, sizeof(buf));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  ::close(p[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) return "child timed out after " + std::to_string(timeout_s) + " s; got: " + out;
  if (out == "OK") return "";
  if (out.empty()) return "child died with status " + std::to_string(status);
  return out;
}

}  // namespace initos
