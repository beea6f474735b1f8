#include "base/children.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>

#include "base/file.h"
#include "base/log.h"
#include "base/signals.h"

namespace initos {
inline namespace base {

std::vector<Reaped> ReapExited(bool* none_left) {
  std::vector<Reaped> out;
  if (none_left) *none_left = false;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      out.push_back({pid, status});
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0 && errno == ECHILD && none_left) *none_left = true;
    return out;
  }
}

pid_t ParsePpidFromStat(const std::string& stat) {
  // comm is wrapped in parentheses and may contain anything: the fields
  // resume after the LAST ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 > stat.size()) return -1;
  const char* p = stat.c_str() + close + 2;  // state letter
  const char* end = stat.c_str() + stat.size();
  if (p + 2 > end) return -1;
  p += 2;  // skip "S "
  pid_t ppid = -1;
  auto r = std::from_chars(p, end, ppid);
  if (r.ec != std::errc()) return -1;
  return ppid;
}

std::vector<pid_t> Descendants(pid_t ancestor, const std::string& proc) {
  std::multimap<pid_t, pid_t> children;  // ppid -> pid
  if (DIR* d = ::opendir(proc.c_str())) {
    while (dirent* e = ::readdir(d)) {
      pid_t pid = 0;
      auto r = std::from_chars(e->d_name, e->d_name + std::strlen(e->d_name), pid);
      if (r.ec != std::errc() || *r.ptr != '\0') continue;
      auto stat = ReadFileToString(proc + "/" + e->d_name + "/stat");
      if (!stat.ok()) continue;  // exited meanwhile
      children.emplace(ParsePpidFromStat(*stat), pid);
    }
    ::closedir(d);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> frontier = {ancestor};
  while (!frontier.empty()) {
    std::vector<pid_t> next;
    for (pid_t parent : frontier) {
      auto [b, e] = children.equal_range(parent);
      for (auto it = b; it != e; ++it) {
        out.push_back(it->second);
        next.push_back(it->second);
      }
    }
    frontier = std::move(next);
  }
  return out;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string name = SignalName(sig);
    return "killed by signal " + std::to_string(sig) +
           (name.starts_with("SIG") ? " (" + name + ")" : "");
  }
  return "status " + std::to_string(status);
}

bool ReapUntilGone(int timeout_ms) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  const double deadline = MonotonicSeconds() + timeout_ms / 1000.0;
  for (;;) {
    bool none_left = false;
    ReapExited(&none_left);
    if (none_left) return true;
    double left = deadline - MonotonicSeconds();
    if (left <= 0) return false;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(left);
    ts.tv_nsec = static_cast<long>((left - static_cast<double>(ts.tv_sec)) * 1e9);
    ::sigtimedwait(&chld, nullptr, &ts);
  }
}

}  // namespace base
}  // namespace initos
