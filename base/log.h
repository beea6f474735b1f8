// Logging: LOG(Info) << "text"; goes to stderr for host tools, to /dev/kmsg in
// PID 1. Messages logged before /dev/kmsg exists are queued and flushed once it
// does (after Android first_stage_init), so early errors are never lost.
#pragma once

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace initos {
inline namespace base {

// Syslog priorities, as the kernel's printk "<N>" prefix expects.
enum class Severity { Emerg = 0, Alert, Crit, Error, Warning, Notice, Info, Debug };

enum class LogTarget {
  kStderr,  // host tools and reaper mode: "initos: message"
  kQueue,   // early PID 1: keep messages until kmsg or the console is ready
  kKmsg,    // PID 1 once /dev/kmsg is open
};

// Host default is stderr. PID 1 switches to kQueue first thing.
void SetLogTarget(LogTarget target);
// Switches to kmsg and writes out everything queued so far, in order.
void LogToKmsg(unique_fd kmsg);
// Minimum severity that is emitted (default Info; -v flags raise it).
void SetMinSeverity(Severity s);
Severity MinSeverity();
// Messages queued but not yet written (tests and fallback flushing).
std::vector<std::string> TakeQueuedLogs();

void LogLine(Severity s, std::string_view message);

// Seconds since boot (CLOCK_MONOTONIC), as logged with each boot stage.
double MonotonicSeconds();

class LogMessage {
 public:
  explicit LogMessage(Severity s) : severity_(s) {}
  ~LogMessage() { LogLine(severity_, text_); }
  template <typename V>
  LogMessage& operator<<(const V& v) {
    AppendText(text_, v);
    return *this;
  }

 private:
  Severity severity_;
  std::string text_;
};

}  // namespace base
}  // namespace initos

#define LOG(sev) ::initos::LogMessage(::initos::Severity::sev)
