#include "base/signals.h"

#include <csignal>

namespace initos {
inline namespace base {
namespace {

struct SignalEntry {
  int signo;
  std::string_view name;  // without "SIG"
};
constexpr SignalEntry kSignals[] = {
    {SIGHUP, "HUP"},       {SIGINT, "INT"},   {SIGQUIT, "QUIT"},   {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"},     {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},     {SIGFPE, "FPE"},
    {SIGKILL, "KILL"},     {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"},   {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"},     {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},   {SIGCHLD, "CHLD"},
    {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},   {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},   {SIGXFSZ, "XFSZ"},
    {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"}, {SIGIO, "IO"},
    {SIGPWR, "PWR"},       {SIGSYS, "SYS"},
};

char Upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool Same(std::string_view a, std::string_view upper, SignalNameCase letter_case) {
  if (letter_case == SignalNameCase::kExact) return a == upper;
  if (a.size() != upper.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Upper(a[i]) != upper[i]) return false;
  return true;
}

// "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N", as SignalName writes them: the
// real-time signals have no fixed numbers (libc reserves the first few).
std::optional<int> RealtimeFromName(std::string_view name, SignalNameCase letter_case) {
  if (name.size() < 5) return std::nullopt;
  bool min = Same(name.substr(0, 5), "RTMIN", letter_case);
  if (!min && !Same(name.substr(0, 5), "RTMAX", letter_case)) return std::nullopt;
  std::string_view rest = name.substr(5);
  int offset = 0;
  if (!rest.empty()) {
    if (rest[0] != (min ? '+' : '-') || rest.size() < 2 || rest.size() > 3) return std::nullopt;
    for (char c : rest.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
      offset = offset * 10 + (c - '0');
    }
  }
  int signo = min ? SIGRTMIN + offset : SIGRTMAX - offset;
  if (signo < SIGRTMIN || signo > SIGRTMAX) return std::nullopt;
  return signo;
}

}  // namespace

std::optional<int> SignalFromName(std::string_view name, SignalNameCase letter_case) {
  if (name.size() > 3 && Same(name.substr(0, 3), "SIG", letter_case)) name.remove_prefix(3);
  for (const auto& s : kSignals)
    if (Same(name, s.name, letter_case)) return s.signo;
  return RealtimeFromName(name, letter_case);
}

std::string SignalName(int signo) {
  for (const auto& s : kSignals)
    if (s.signo == signo) return "SIG" + std::string(s.name);
  // SIGRTMIN is a libc value (it reserves the first few real-time signals).
  if (signo >= SIGRTMIN && signo <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(signo - SIGRTMIN);
  return "signal " + std::to_string(signo);
}

}  // namespace base
}  // namespace initos
