#include "cli/kmsg_record.h"

#include <cstdio>

namespace initos {
inline namespace cli {
namespace {

// Reads a decimal number up to `end` from s at *at; false if none.
bool Number(std::string_view s, size_t* at, char end, uint64_t* out) {
  size_t start = *at;
  uint64_t v = 0;
  while (*at < s.size() && s[*at] >= '0' && s[*at] <= '9') {
    if (*at - start >= 20) return false;
    v = v * 10 + static_cast<uint64_t>(s[*at] - '0');
    ++*at;
  }
  if (*at == start || *at >= s.size() || s[*at] != end) return false;
  ++*at;
  *out = v;
  return true;
}

}  // namespace

std::optional<KmsgRecord> ParseKmsgRecord(std::string_view record) {
  size_t semi = record.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  std::string_view prefix = record.substr(0, semi + 1);
  size_t at = 0;
  uint64_t pri = 0, seq = 0, usec = 0;
  if (!Number(prefix, &at, ',', &pri) || !Number(prefix, &at, ',', &seq)) return std::nullopt;
  // usec is followed by ',' and the flags (and maybe more fields) up to ';'.
  size_t save = at;
  if (!Number(prefix, &at, ',', &usec)) {
    at = save;
    if (!Number(prefix, &at, ';', &usec)) return std::nullopt;
  }
  if (pri > 1023) return std::nullopt;
  std::string_view message = record.substr(semi + 1);
  size_t nl = message.find('\n');
  if (nl != std::string_view::npos) message = message.substr(0, nl);
  KmsgRecord r;
  r.priority = static_cast<int>(pri);
  r.seq = seq;
  r.usec = usec;
  r.message = std::string(message);
  return r;
}

std::vector<std::string> SplitKmsgRecords(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = text.substr(at, end - at);
    if (!line.empty() && line[0] == ' ' && !out.empty())
      out.back() += line;
    else
      out.emplace_back(line);
    at = end;
  }
  return out;
}

bool IsInitosMessage(std::string_view message) {
  return message.substr(0, 8) == "initos: " || message.substr(0, 16) == "initos-sidecar: ";
}

std::string FormatKmsgLine(const KmsgRecord& r) {
  char ts[48];
  std::snprintf(ts, sizeof(ts), "[%5llu.%06llu] ",
                static_cast<unsigned long long>(r.usec / 1000000),
                static_cast<unsigned long long>(r.usec % 1000000));
  return ts + r.message;
}

}  // namespace cli
}  // namespace initos
