// Tests only (header-only): runs a real qemu-system-x86_64 from a QemuVm
// whose fds (disks, QMP socket, tap) it inherits, and talks QMP to it over
// the socketpair end the test kept. Proves that QEMU 7.2 accepts the argv
// jail/qemu_command.cpp builds, not only that the strings look right.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/spawn.h"
#include "base/unique_fd.h"

namespace initos::testutil {

// A QEMU with no machine and nothing but QMP on the inherited fd 3, then
// `extra`: enough to test the QMP client and QEMU's confinement without
// booting anything.
inline std::vector<std::string> QmpOnlyQemuArgv(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"/usr/bin/qemu-system-x86_64",
                                   "-machine",
                                   "none",
                                   "-nodefaults",
                                   "-display",
                                   "none",
                                   "-chardev",
                                   "socket,id=qmp,fd=3",
                                   "-mon",
                                   "chardev=qmp,mode=control"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

class QmpQemu {
 public:
  // A connected socketpair: qmp_child_fd() goes into QemuVm::qmp_fd.
  QmpQemu() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
      ours_.reset(sv[0]);
      theirs_.reset(sv[1]);
    }
  }
  ~QmpQemu() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int qmp_child_fd() const { return theirs_.get(); }

  // Spawns argv with `inherit` (and the QMP end) left open across exec;
  // QEMU's output goes to `log` (a path). Reads the QMP greeting and
  // negotiates capabilities.
  Result<void> Start(const std::vector<std::string>& argv, std::vector<int> inherit,
                     const std::string& log) {
    inherit.push_back(theirs_.get());
    auto out = OpenFile(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (!out.ok()) return out.error();
    auto null = OpenFile("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!null.ok()) return null.error();
    SpawnOptions o;
    o.argv = argv;
    o.stdin_fd = null->get();
    o.stdout_fd = out->get();
    o.stderr_fd = out->get();
    o.new_process_group = true;
    // The fds are O_CLOEXEC in the test; only the child keeps them.
    o.steps.push_back({"keep the fds QEMU inherits", [inherit]() -> Result<void> {
                         for (int fd : inherit)
                           if (::fcntl(fd, F_SETFD, 0) != 0) return ErrnoError() << "fcntl " << fd;
                         return {};
                       }});
    auto pid = Spawn(o);
    if (!pid.ok()) return pid.error();
    pid_ = *pid;
    theirs_.reset();
    auto greeting = ReadMessage();
    if (!greeting.ok()) return greeting.error();
    if (greeting->find("\"QMP\"") == std::string::npos)
      return Err() << "no QMP greeting: " << *greeting;
    auto caps = Execute(R"({"execute": "qmp_capabilities"})");
    if (!caps.ok()) return caps.error();
    return {};
  }

  // Sends one command and returns its "return" (or "error") line; events
  // in between are kept in events().
  Result<std::string> Execute(const std::string& command) {
    std::string line = command + "\n";
    if (::send(ours_.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(line.size()))
      return ErrnoError() << "send to QMP";
    for (;;) {
      auto msg = ReadMessage();
      if (!msg.ok()) return msg.error();
      if (msg->find("\"event\"") != std::string::npos) {
        events_.push_back(*msg);
        continue;
      }
      return *msg;
    }
  }

  // Waits for QEMU's exit; its wait status.
  Result<int> Wait(std::chrono::milliseconds timeout) {
    auto status = WaitForExit(pid_, timeout, "qemu");
    pid_ = -1;
    return status;
  }

  const std::vector<std::string>& events() const { return events_; }

 private:
  // One '\n'-terminated QMP message, 30 s at most (TCG on a loaded host).
  Result<std::string> ReadMessage() {
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string msg = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return msg;
      }
      pollfd p{ours_.get(), POLLIN, 0};
      int r = ::poll(&p, 1, 30000);
      if (r == 0) return Err() << "no QMP message within 30 s";
      if (r < 0) return ErrnoError() << "poll QMP";
      char buf[4096];
      ssize_t n = ::read(ours_.get(), buf, sizeof buf);
      if (n <= 0) return Err() << "QMP connection closed (QEMU exited?)";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  unique_fd ours_, theirs_;
  pid_t pid_ = -1;
  std::string buffer_;
  std::vector<std::string> events_;
};

}  // namespace initos::testutil
