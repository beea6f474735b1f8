// Child-process bookkeeping shared by the supervisor and shutdown.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace initos {
inline namespace base {

struct Reaped {
  pid_t pid = 0;
  int status = 0;  // as from waitpid
};

// Reaps every exited child without blocking (waitpid(-1, WNOHANG) until 0 or
// ECHILD: SIGCHLDs merge, so one signal may stand for hundreds of exits).
// *none_left is set when no children remain at all.
std::vector<Reaped> ReapExited(bool* none_left = nullptr);

// Reaps until no child is left or timeout_ms passed. SIGCHLD is blocked
// (the supervisor blocks it; this makes sure), so sigtimedwait sleeps until a
// child changes state instead of polling. True when every child is gone.
bool ReapUntilGone(int timeout_ms);

// Pids of all descendants of `ancestor`, from the PPid fields of
// PROC/PID/stat (children before grandchildren).
std::vector<pid_t> Descendants(pid_t ancestor, const std::string& proc = "/proc");

// Parent pid from the text of /proc/PID/stat ("pid (comm) S ppid ..."; comm
// may contain spaces and parentheses). -1 when malformed.
pid_t ParsePpidFromStat(const std::string& stat);

// "exited with status N" / "killed by signal N (NAME)".
std::string DescribeStatus(int status);

}  // namespace base
}  // namespace initos
