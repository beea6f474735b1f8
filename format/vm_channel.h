// The vsock channel between the jail supervisor (host) and initos in a VM
// jail's guest (issue 11, docs/vm-jails.md). Pure encoding and decoding, no
// syscalls: both ends and the tests share it.
//
//   guest → host  port kVmReadyPort on CID 2 (the host): one line
//                 "READY <jail-name> <version>\n", then the guest closes.
//                 The host knows which VM spoke by the peer CID (assigned by
//                 the supervisor through vhost-vsock, so a guest cannot claim
//                 another's), and only logs the name.
//   host → guest  port kVmAgentPort (the guest's agent, an '@' process that
//                 outlives the handover): one connection per request. The
//                 host's first frame is kExecArgv or kPoweroff.
//     exec:     host kExecArgv, then kStdin frames (an empty one = EOF);
//               guest kStdout/kStderr frames, then one kExit and it closes.
//     poweroff: host kPoweroff; guest kExit (0) once it asked its PID 1 to
//               power off, and closes.
//
// A frame is 1 type byte, a 4-byte big-endian payload length (at most
// kVmFrameMaxPayload), and the payload. Anything else ends the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

inline constexpr uint32_t kVmAgentPort = 1024;  // guest listens: exec, poweroff
inline constexpr uint32_t kVmReadyPort = 1025;  // host listens: readiness
inline constexpr uint32_t kVmHostCid = 2;       // VMADDR_CID_HOST
// virtio-blk serial numbers the supervisor gives the disks and the guest's
// config names them by (rootfs.image = "SERIAL=initos-rootfs").
inline constexpr const char* kVmRootfsSerial = "initos-rootfs";
inline constexpr const char* kVmStateSerial = "initos-state";

inline constexpr uint32_t kVmFrameMaxPayload = 64 * 1024;
inline constexpr size_t kVmFrameHeaderSize = 5;
inline constexpr size_t kVmReadyLineMax = 256;

enum class VmFrameType : uint8_t {
  kExecArgv = 'A',  // NUL-terminated arguments, at least one
  kPoweroff = 'P',  // empty
  kStdin = 'I',     // data; empty = end of input
  kStdout = 'O',
  kStderr = 'E',
  kExit = 'X',  // 4-byte big-endian wait status (as waitpid gives it)
};

struct VmFrame {
  VmFrameType type = VmFrameType::kStdout;
  std::string payload;
  bool operator==(const VmFrame&) const = default;
};

// Header + payload. Errors when the payload is over kVmFrameMaxPayload.
Result<std::string> EncodeVmFrame(const VmFrame& frame);

// Takes one whole frame off the front of `buffer` (bytes read so far):
// nullopt while the frame is still incomplete; an error for an unknown type
// or a length over the maximum (the connection is then dropped).
Result<std::optional<VmFrame>> DecodeVmFrame(std::string& buffer);

// kExecArgv payload and back: every argument NUL-terminated; decoding
// refuses an empty argv or a payload not ending in NUL.
std::string EncodeVmArgv(const std::vector<std::string>& argv);
Result<std::vector<std::string>> DecodeVmArgv(std::string_view payload);

// kExit payload and back.
std::string EncodeVmExit(int wait_status);
Result<int> DecodeVmExit(std::string_view payload);

// "READY NAME VERSION\n" and back (NAME: a jail name, VERSION: decimal).
std::string EncodeVmReady(std::string_view jail_name, uint64_t version);
struct VmReady {
  std::string jail_name;
  uint64_t version = 0;
  bool operator==(const VmReady&) const = default;
};
Result<VmReady> DecodeVmReady(std::string_view line);

}  // namespace format
}  // namespace initos
