// A small QMP client (QEMU Machine Protocol) over a connected socket the
// supervisor holds (a socketpair end; QEMU got the other as
// `-chardev socket,id=qmp,fd=N -mon chardev=qmp,mode=control`). Only what a
// VM jail needs: the greeting and capabilities handshake, commands
// (system_powerdown, quit) and events (SHUTDOWN, GUEST_PANICKED, ...).
// QEMU sends one JSON object per line; the reader understands just the
// top-level keys QMP uses ("QMP", "return", "error", "event").
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace jail {

struct QmpMessage {
  enum class Kind { kGreeting, kReturn, kError, kEvent, kOther };
  Kind kind = Kind::kOther;
  std::string event;        // kEvent: "SHUTDOWN"
  std::string data;         // kEvent: its "data" member as raw JSON ("" = none)
  std::string error_class;  // kError: "CommandNotFound"
  std::string error_desc;   // kError: QEMU's message
  std::string line;         // the raw JSON text
};

// One QMP line (pure). Errors: not a JSON object.
Result<QmpMessage> ParseQmpMessage(std::string_view line);

// The guest went down by itself without powering off: SHUTDOWN with reason
// "guest-reset" (a reboot, or a panic with panic=-1 under -no-reboot) or
// GUEST_PANICKED (pure). QEMU then exits 0 all the same.
bool QmpGuestResetOrPanic(const QmpMessage& m);

// The top-level members of a JSON object, each as raw JSON text (pure);
// nested values are kept whole. Strings come back with their quotes.
Result<std::map<std::string, std::string>> JsonObjectMembers(std::string_view text);
// A JSON string literal's value ("\"a\\nb\"" → "a\nb"); only \uXXXX < 0x80
// and the one-letter escapes are decoded (all QMP sends in names).
Result<std::string> JsonStringValue(std::string_view literal);
// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

class QmpClient {
 public:
  using Timeout = std::chrono::milliseconds;
  explicit QmpClient(unique_fd fd) : fd_(std::move(fd)) {}

  // Reads the greeting, sends qmp_capabilities and waits for its return.
  Result<void> Handshake(Timeout timeout = Timeout(10000));
  // Sends {"execute": command} and waits for its return (events read on the
  // way are queued for NextEvent); an {"error"} reply is an error naming it.
  Result<void> Execute(const std::string& command, Timeout timeout = Timeout(5000));
  // ACPI power button: the guest shuts down cleanly if it listens.
  Result<void> SystemPowerdown() { return Execute("system_powerdown"); }
  // QEMU exits at once (the reply may be lost with the socket): waits up to
  // `wait` for the reply; Timeout(0) only sends (the supervisor's loop).
  Result<void> Quit(Timeout wait = Timeout(2000));
  // The next event: queued ones first, then waits up to `timeout` for one.
  // nullopt on timeout; an error when QEMU closed the socket.
  Result<std::optional<QmpMessage>> NextEvent(Timeout timeout);
  // Non-blocking: reads what is there and returns the events in it (the
  // supervisor's loop calls this when the fd is readable). An error when
  // QEMU closed the socket.
  Result<std::vector<QmpMessage>> DrainEvents();

  int fd() const { return fd_.get(); }

 private:
  // The next complete message, reading up to `timeout` for it; nullopt on
  // timeout. Timeout(0) reads only what is there already.
  Result<std::optional<QmpMessage>> ReadMessage(Timeout timeout);
  Result<void> Send(const std::string& json);

  unique_fd fd_;
  std::string buffer_;
  std::deque<QmpMessage> events_;
};

}  // namespace jail
}  // namespace initos
