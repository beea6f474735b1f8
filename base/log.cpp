#include "base/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace initos {
inline namespace base {
namespace {

struct LogState {
  std::mutex mu;
  LogTarget target = LogTarget::kStderr;
  Severity min = Severity::Info;
  unique_fd kmsg;
  std::vector<std::string> queue;  // already formatted kmsg records
};

LogState& State() {
  static LogState* s = new LogState;  // never destroyed: logging works during exit
  return *s;
}

// "<6>initos: message" — the kernel parses the priority and keeps the tag.
std::string KmsgRecord(Severity s, std::string_view msg) {
  std::string r = "<" + std::to_string(static_cast<int>(s)) + ">initos: ";
  r.append(msg);
  if (r.empty() || r.back() != '\n') r.push_back('\n');
  return r;
}

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

void SetLogTarget(LogTarget target) {
  std::lock_guard<std::mutex> l(State().mu);
  State().target = target;
}

void LogToKmsg(unique_fd kmsg) {
  LogState& st = State();
  std::lock_guard<std::mutex> l(st.mu);
  st.kmsg = std::move(kmsg);
  st.target = LogTarget::kKmsg;
  for (const std::string& r : st.queue) WriteAll(st.kmsg.get(), r);
  st.queue.clear();
}

void SetMinSeverity(Severity s) {
  std::lock_guard<std::mutex> l(State().mu);
  State().min = s;
}

Severity MinSeverity() {
  std::lock_guard<std::mutex> l(State().mu);
  return State().min;
}

std::vector<std::string> TakeQueuedLogs() {
  std::lock_guard<std::mutex> l(State().mu);
  return std::exchange(State().queue, {});
}

void LogLine(Severity s, std::string_view message) {
  LogState& st = State();
  std::lock_guard<std::mutex> l(st.mu);
  if (static_cast<int>(s) > static_cast<int>(st.min)) return;
  switch (st.target) {
    case LogTarget::kStderr: {
      std::string line = "initos: ";
      line.append(message);
      if (line.back() != '\n') line.push_back('\n');
      WriteAll(STDERR_FILENO, line);
      break;
    }
    case LogTarget::kQueue:
      st.queue.push_back(KmsgRecord(s, message));
      break;
    case LogTarget::kKmsg:
      WriteAll(st.kmsg.get(), KmsgRecord(s, message));
      break;
  }
}

double MonotonicSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace base
}  // namespace initos
