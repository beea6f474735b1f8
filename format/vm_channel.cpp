#include "format/vm_channel.h"

#include <charconv>

#include "format/jail_config.h"

namespace initos {
inline namespace format {
namespace {

bool KnownType(uint8_t t) {
  switch (static_cast<VmFrameType>(t)) {
    case VmFrameType::kExecArgv:
    case VmFrameType::kPoweroff:
    case VmFrameType::kStdin:
    case VmFrameType::kStdout:
    case VmFrameType::kStderr:
    case VmFrameType::kExit:
      return true;
  }
  return false;
}

void PutBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t GetBe32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

Result<std::string> EncodeVmFrame(const VmFrame& frame) {
  if (frame.payload.size() > kVmFrameMaxPayload)
    return Err() << "vm channel: frame of " << frame.payload.size() << " bytes is over the "
                 << kVmFrameMaxPayload << "-byte maximum; split it";
  std::string out;
  out.reserve(kVmFrameHeaderSize + frame.payload.size());
  out.push_back(static_cast<char>(frame.type));
  PutBe32(out, static_cast<uint32_t>(frame.payload.size()));
  out += frame.payload;
  return out;
}

Result<std::optional<VmFrame>> DecodeVmFrame(std::string& buffer) {
  if (buffer.empty()) return std::optional<VmFrame>();
  uint8_t type = static_cast<uint8_t>(buffer[0]);
  if (!KnownType(type))
    return Err() << "vm channel: unknown frame type " << static_cast<int>(type)
                 << "; both ends must run the same initos";
  if (buffer.size() < kVmFrameHeaderSize) return std::optional<VmFrame>();
  uint32_t len = GetBe32(std::string_view(buffer).substr(1, 4));
  if (len > kVmFrameMaxPayload)
    return Err() << "vm channel: frame length " << len << " is over the " << kVmFrameMaxPayload
                 << "-byte maximum";
  if (buffer.size() < kVmFrameHeaderSize + len) return std::optional<VmFrame>();
  VmFrame f;
  f.type = static_cast<VmFrameType>(type);
  f.payload = buffer.substr(kVmFrameHeaderSize, len);
  buffer.erase(0, kVmFrameHeaderSize + len);
  return std::optional<VmFrame>(std::move(f));
}

std::string EncodeVmArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    out += a;
    out.push_back('\0');
  }
  return out;
}

Result<std::vector<std::string>> DecodeVmArgv(std::string_view payload) {
  if (payload.empty()) return Err() << "vm channel: exec request with an empty argv";
  if (payload.back() != '\0') return Err() << "vm channel: exec argv does not end in NUL";
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < payload.size()) {
    size_t nul = payload.find('\0', start);
    argv.emplace_back(payload.substr(start, nul - start));
    start = nul + 1;
  }
  if (argv[0].empty()) return Err() << "vm channel: exec request with an empty program name";
  return argv;
}

std::string EncodeVmExit(int wait_status) {
  std::string out;
  PutBe32(out, static_cast<uint32_t>(wait_status));
  return out;
}

Result<int> DecodeVmExit(std::string_view payload) {
  if (payload.size() != 4)
    return Err() << "vm channel: exit frame of " << payload.size() << " bytes, expected 4";
  return static_cast<int>(GetBe32(payload));
}

std::string EncodeVmReady(std::string_view jail_name, uint64_t version) {
  return "READY " + std::string(jail_name) + " " + std::to_string(version) + "\n";
}

Result<VmReady> DecodeVmReady(std::string_view line) {
  if (line.size() > kVmReadyLineMax) return Err() << "vm channel: ready line too long";
  if (!line.starts_with("READY ") || !line.ends_with("\n"))
    return Err() << "vm channel: expected \"READY NAME VERSION\", got a different line";
  std::string_view rest = line.substr(6, line.size() - 7);
  size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return Err() << "vm channel: ready line without a version";
  VmReady r;
  r.jail_name = std::string(rest.substr(0, sp));
  if (auto v = ValidateJailName(r.jail_name); !v.ok())
    return Err() << "vm channel: ready line: " << v.error().str();
  std::string_view ver = rest.substr(sp + 1);
  auto [p, ec] = std::from_chars(ver.data(), ver.data() + ver.size(), r.version);
  if (ver.empty() || ec != std::errc() || p != ver.data() + ver.size())
    return Err() << "vm channel: ready line version \"" << std::string(ver)
                 << "\" is not a decimal number";
  return r;
}

}  // namespace format
}  // namespace initos
