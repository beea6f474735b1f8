// The one signal-name table: names to numbers and back, for the config
// ([init.signals]), the reaper's tini-compatible -p option and log lines.
// Numbers are never accepted here: they differ between architectures.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace initos {
inline namespace base {

enum class SignalNameCase {
  kAny,    // "TERM", "SIGTERM", "sigterm", "SigTerm" (the config)
  kExact,  // "TERM" or "SIGTERM" only (tini's -p)
};

// SIGTERM for "TERM"/"SIGTERM" (and lower case with kAny); the real-time
// signals as "SIGRTMIN+N" / "SIGRTMAX-N" (systemd halts on SIGRTMIN+3);
// nullopt for an unknown name, a number or a bare "SIG".
std::optional<int> SignalFromName(std::string_view name,
                                  SignalNameCase letter_case = SignalNameCase::kAny);

// SIGTERM -> "SIGTERM", SIGRTMIN+4 -> "SIGRTMIN+4"; unknown numbers ->
// "signal N".
std::string SignalName(int signo);

}  // namespace base
}  // namespace initos
