#include "jail/control_protocol.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace initos {
inline namespace jail {
namespace {

constexpr std::pair<JailVerb, std::string_view> kVerbs[] = {
    {JailVerb::kList, "list"},       {JailVerb::kStatus, "status"}, {JailVerb::kLogs, "logs"},
    {JailVerb::kConsole, "console"}, {JailVerb::kStart, "start"},   {JailVerb::kStop, "stop"},
    {JailVerb::kRestart, "restart"}, {JailVerb::kExec, "exec"}};

bool IsReadOnly(JailVerb v) {
  return v == JailVerb::kList || v == JailVerb::kStatus || v == JailVerb::kLogs;
}

}  // namespace

std::string_view JailVerbName(JailVerb verb) {
  for (const auto& [v, n] : kVerbs)
    if (v == verb) return n;
  return "?";
}

std::string EncodeRequest(const JailRequest& r) {
  std::string out(JailVerbName(r.verb));
  out += '\0';
  out += r.name;
  out += '\0';
  out += r.follow ? "1" : "0";
  for (const auto& a : r.argv) {
    out += '\0';
    out += a;
  }
  return out;
}

Result<JailRequest> DecodeRequest(std::string_view bytes) {
  std::vector<std::string> words;
  size_t start = 0;
  for (;;) {
    size_t end = bytes.find('\0', start);
    words.emplace_back(bytes.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (words.size() < 3) return Err() << "malformed request (" << bytes.size() << " bytes)";
  JailRequest r;
  auto verb = std::find_if(std::begin(kVerbs), std::end(kVerbs),
                           [&](const auto& v) { return v.second == words[0]; });
  if (verb == std::end(kVerbs)) return Err() << "unknown command \"" << words[0] << "\"";
  r.verb = verb->first;
  r.name = words[1];
  r.follow = words[2] == "1";
  r.argv.assign(words.begin() + 3, words.end());
  if (r.verb != JailVerb::kList && r.name.empty())
    return Err() << JailVerbName(r.verb) << " needs a jail name";
  if (r.verb == JailVerb::kExec && r.argv.empty())
    return Err() << "exec needs a command: initos jail exec NAME -- CMD [ARGS]";
  return r;
}

Result<void> AuthorizeRequest(const JailRequest& request, const JailPeer& peer,
                              int64_t read_group) {
  if (peer.uid == 0) return {};
  bool member = read_group >= 0 && (peer.gid == static_cast<gid_t>(read_group) ||
                                    std::find(peer.groups.begin(), peer.groups.end(),
                                              static_cast<gid_t>(read_group)) != peer.groups.end());
  if (member && IsReadOnly(request.verb)) return {};
  std::ostringstream why;
  why << "permission denied: uid " << peer.uid << " may not " << JailVerbName(request.verb);
  if (member)
    why << " (members of group " << read_group << " may only list, status and logs; ask root)";
  else if (read_group >= 0)
    why << " (only root, and members of group " << read_group << " for list/status/logs)";
  else
    why << " (only root; jails.read-group opens list/status/logs to a group)";
  return Err() << why.str();
}

std::string Frame(char type, std::string_view payload) {
  std::string out(1, type);
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(payload);
  return out;
}

std::string ExitFrame(int code) {
  std::string p;
  uint32_t n = static_cast<uint32_t>(code);
  for (int i = 0; i < 4; ++i) p += static_cast<char>((n >> (8 * i)) & 0xff);
  return Frame('x', p);
}

std::vector<DecodedFrame> TakeFrames(std::string& buffer) {
  std::vector<DecodedFrame> out;
  size_t pos = 0;
  while (buffer.size() - pos >= 5) {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t(uint8_t(buffer[pos + 1 + i])) << (8 * i);
    if (buffer.size() - pos - 5 < n) break;
    out.push_back(DecodedFrame{buffer[pos], buffer.substr(pos + 5, n)});
    pos += 5 + n;
  }
  buffer.erase(0, pos);
  return out;
}

std::vector<gid_t> ParseStatusGroups(std::string_view status) {
  std::vector<gid_t> out;
  size_t at = status.find("\nGroups:");
  if (at == std::string_view::npos) return out;
  size_t end = status.find('\n', at + 1);
  std::istringstream in(std::string(status.substr(at + 8, end - at - 8)));
  unsigned long g;
  while (in >> g) out.push_back(static_cast<gid_t>(g));
  return out;
}

}  // namespace jail
}  // namespace initos
