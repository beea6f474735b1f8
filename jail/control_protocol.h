// The jail control socket's wire format and who may do what. Pure.
//
// A SOCK_STREAM unix socket carrying frames: one type byte, a 4-byte
// little-endian length, the payload. The client sends 'r' (the request:
// "VERB\0NAME\0FOLLOW\0ARG\0..."; exec attaches the client's stdin, stdout
// and stderr as SCM_RIGHTS) and, for console, 'i' input for the jail. The
// server answers 'o' output for stdout, 'e' one error line for stderr and
// 'x' the 4-byte exit code as the last frame.
//
// Authorization by SO_PEERCRED: uid 0 may do everything; members of
// jails.read-group (primary or supplementary) may list, status and logs;
// everyone else nothing (group-based access instead of handing out root).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

enum class JailVerb { kList, kStatus, kLogs, kConsole, kStart, kStop, kRestart, kExec };

struct JailRequest {
  JailVerb verb = JailVerb::kList;
  std::string name;               // "" for list
  bool follow = false;            // logs -f
  std::vector<std::string> argv;  // exec
  bool operator==(const JailRequest&) const = default;
};

std::string_view JailVerbName(JailVerb verb);
std::string EncodeRequest(const JailRequest& request);
Result<JailRequest> DecodeRequest(std::string_view bytes);

struct JailPeer {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary
};

// read_group < 0: root only.
Result<void> AuthorizeRequest(const JailRequest& request, const JailPeer& peer, int64_t read_group);

// Frames.
std::string Frame(char type, std::string_view payload);
std::string ExitFrame(int code);
struct DecodedFrame {
  char type = 0;
  std::string payload;
};
// Takes complete frames off the front of `buffer`; incomplete ones stay.
std::vector<DecodedFrame> TakeFrames(std::string& buffer);

// "Groups:\t10 27 1000" of /proc/PID/status → {10, 27, 1000}.
std::vector<gid_t> ParseStatusGroups(std::string_view status);

}  // namespace jail
}  // namespace initos
