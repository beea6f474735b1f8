#include "jail/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace initos {
inline namespace jail {
namespace {

void SkipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
}

// Moves i past the string literal starting at s[i] == '"'.
bool SkipString(std::string_view s, size_t& i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      ++i;
      return true;
    }
  }
  return false;
}

// Moves i past one JSON value (nested objects and arrays whole).
bool SkipValue(std::string_view s, size_t& i) {
  SkipSpace(s, i);
  if (i >= s.size()) return false;
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '"') {
        if (!SkipString(s, i)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++i;
      if (depth == 0) return true;
    }
    return false;
  }
  size_t start = i;  // number, true, false, null
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\r' &&
         s[i] != '\n' && s[i] != '\t')
    ++i;
  return i > start;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::map<std::string, std::string>> JsonObjectMembers(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  SkipSpace(text, i);
  if (i >= text.size() || text[i] != '{') return Err() << "QMP: not a JSON object: " << text;
  ++i;
  SkipSpace(text, i);
  if (i < text.size() && text[i] == '}') return out;
  for (;;) {
    SkipSpace(text, i);
    if (i >= text.size() || text[i] != '"') return Err() << "QMP: expected a member name: " << text;
    size_t key_start = i;
    if (!SkipString(text, i)) return Err() << "QMP: unterminated string: " << text;
    auto key = JsonStringValue(text.substr(key_start, i - key_start));
    if (!key.ok()) return key.error();
    SkipSpace(text, i);
    if (i >= text.size() || text[i] != ':') return Err() << "QMP: expected ':': " << text;
    ++i;
    SkipSpace(text, i);
    size_t value_start = i;
    if (!SkipValue(text, i)) return Err() << "QMP: bad value of " << *key << ": " << text;
    out[*key] = std::string(text.substr(value_start, i - value_start));
    SkipSpace(text, i);
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '}') return out;
    return Err() << "QMP: expected ',' or '}': " << text;
  }
}

Result<std::string> JsonStringValue(std::string_view lit) {
  if (lit.size() < 2 || lit.front() != '"' || lit.back() != '"')
    return Err() << "QMP: not a JSON string: " << lit;
  std::string out;
  for (size_t i = 1; i + 1 < lit.size(); ++i) {
    char c = lit[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i + 1 >= lit.size() + 1) break;
    switch (lit[i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        int v = 0;
        for (int k = 1; k <= 4; ++k) {
          int d = i + k < lit.size() ? HexDigit(lit[i + k]) : -1;
          if (d < 0) return Err() << "QMP: bad \\u escape in " << lit;
          v = v * 16 + d;
        }
        i += 4;
        out += v < 0x80 ? static_cast<char>(v) : '?';
        break;
      }
      default:  // \" \\ \/
        out += lit[i];
    }
  }
  return out;
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Result<QmpMessage> ParseQmpMessage(std::string_view line) {
  auto members = JsonObjectMembers(line);
  if (!members.ok()) return members.error();
  QmpMessage m;
  m.line = std::string(line);
  if (members->count("QMP")) {
    m.kind = QmpMessage::Kind::kGreeting;
  } else if (members->count("return")) {
    m.kind = QmpMessage::Kind::kReturn;
  } else if (auto e = members->find("error"); e != members->end()) {
    m.kind = QmpMessage::Kind::kError;
    auto inner = JsonObjectMembers(e->second);
    if (inner.ok()) {
      if (auto c = inner->find("class"); c != inner->end())
        m.error_class = JsonStringValue(c->second).ok() ? *JsonStringValue(c->second) : "";
      if (auto d = inner->find("desc"); d != inner->end())
        m.error_desc = JsonStringValue(d->second).ok() ? *JsonStringValue(d->second) : "";
    }
  } else if (auto ev = members->find("event"); ev != members->end()) {
    m.kind = QmpMessage::Kind::kEvent;
    auto name = JsonStringValue(ev->second);
    if (!name.ok()) return name.error();
    m.event = *name;
    if (auto d = members->find("data"); d != members->end()) m.data = d->second;
  }
  return m;
}

bool QmpGuestResetOrPanic(const QmpMessage& m) {
  if (m.kind != QmpMessage::Kind::kEvent) return false;
  if (m.event == "GUEST_PANICKED") return true;
  if (m.event != "SHUTDOWN" || m.data.empty()) return false;
  auto data = JsonObjectMembers(m.data);
  if (!data.ok()) return false;
  auto reason = data->find("reason");
  if (reason == data->end()) return false;
  auto text = JsonStringValue(reason->second);
  return text.ok() && *text == "guest-reset";
}

Result<void> QmpClient::Send(const std::string& json) {
  std::string line = json + "\r\n";
  // MSG_NOSIGNAL: a QEMU that is gone must be an error here, not a SIGPIPE.
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::send(fd_.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {fd_.get(), POLLOUT, 0};
      (void)::poll(&p, 1, 1000);
      continue;
    }
    if (n <= 0) return ErrnoError() << "QMP: send";
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<std::optional<QmpMessage>> QmpClient::ReadMessage(Timeout timeout) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty()) continue;
      auto m = ParseQmpMessage(line);
      if (!m.ok()) return m.error();
      return std::optional<QmpMessage>(std::move(*m));
    }
    auto left = std::chrono::duration_cast<Timeout>(deadline - Clock::now());
    struct pollfd p = {fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError() << "QMP: poll";
    if (r == 0) return std::optional<QmpMessage>();
    char buf[4096];
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoError() << "QMP: read";
    if (n == 0) return Err() << "QMP: QEMU closed the monitor socket";
    buffer_.append(buf, static_cast<size_t>(n));
    if (buffer_.size() > (1u << 20)) return Err() << "QMP: a message over 1 MiB";
  }
}

Result<void> QmpClient::Handshake(Timeout timeout) {
  auto greeting = ReadMessage(timeout);
  if (!greeting.ok()) return greeting.error();
  if (!*greeting) return Err() << "QMP: no greeting from QEMU within " << timeout.count() << " ms";
  if ((*greeting)->kind != QmpMessage::Kind::kGreeting)
    return Err() << "QMP: expected the greeting, got " << (*greeting)->line;
  return Execute("qmp_capabilities", timeout);
}

Result<void> QmpClient::Execute(const std::string& command, Timeout timeout) {
  INITOS_TRY(Send("{\"execute\": " + JsonQuote(command) + "}"));
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Timeout>(deadline - Clock::now());
    if (left.count() <= 0)
      return Err() << "QMP: no reply to " << command << " within " << timeout.count() << " ms";
    auto m = ReadMessage(left);
    if (!m.ok()) return Err() << m.error().str() << " (waiting for the reply to " << command << ")";
    if (!*m) continue;
    switch ((*m)->kind) {
      case QmpMessage::Kind::kReturn:
        return {};
      case QmpMessage::Kind::kError:
        return Err() << "QMP: " << command << ": " << (*m)->error_class << ": " << (*m)->error_desc;
      case QmpMessage::Kind::kEvent:
        events_.push_back(std::move(**m));
        break;
      default:
        break;
    }
  }
}

Result<void> QmpClient::Quit(Timeout wait) {
  INITOS_TRY(Send("{\"execute\": \"quit\"}"));
  if (wait.count() == 0) return {};
  // QEMU may exit before the reply makes it out: a closed socket is success.
  auto m = ReadMessage(wait);
  if (m.ok() && *m && (*m)->kind == QmpMessage::Kind::kError)
    return Err() << "QMP: quit: " << (*m)->error_desc;
  if (m.ok() && *m && (*m)->kind == QmpMessage::Kind::kEvent) events_.push_back(std::move(**m));
  return {};
}

Result<std::optional<QmpMessage>> QmpClient::NextEvent(Timeout timeout) {
  if (!events_.empty()) {
    QmpMessage m = std::move(events_.front());
    events_.pop_front();
    return std::optional<QmpMessage>(std::move(m));
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Timeout>(deadline - Clock::now());
    auto m = ReadMessage(left.count() > 0 ? left : Timeout(0));
    if (!m.ok()) return m.error();
    if (!*m) return std::optional<QmpMessage>();
    if ((*m)->kind == QmpMessage::Kind::kEvent) return m;
  }
}

Result<std::vector<QmpMessage>> QmpClient::DrainEvents() {
  std::vector<QmpMessage> out;
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  for (;;) {
    auto m = ReadMessage(Timeout(0));
    if (!m.ok()) {
      if (out.empty()) return m.error();
      return out;  // the close shows up on the next call
    }
    if (!*m) return out;
    if ((*m)->kind == QmpMessage::Kind::kEvent) out.push_back(std::move(**m));
  }
}

}  // namespace jail
}  // namespace initos
