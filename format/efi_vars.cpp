#include "format/efi_vars.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kAttributesSize = 4;

// The variables, as (name, guid).
constexpr std::string_view kSecureBoot = "SecureBoot";
constexpr std::string_view kSetupMode = "SetupMode";
constexpr std::string_view kStubInfo = "StubInfo";
constexpr std::string_view kImageIdentifier = "LoaderImageIdentifier";
constexpr std::string_view kEntrySelected = "LoaderEntrySelected";
constexpr std::string_view kFirmwareInfo = "LoaderFirmwareInfo";

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

const EfiVarFile* Find(const EfiVarsInput& in, std::string_view name, std::string_view guid) {
  auto it = in.vars.find(EfiVarFileName(name, guid));
  if (it == in.vars.end() || (!it->second.present && it->second.error.empty())) return nullptr;
  return &it->second;
}

// A boolean variable: its value, or why it is unknown.
Result<bool> ReadBool(const EfiVarsInput& in, std::string_view name) {
  const EfiVarFile* f = Find(in, name, kEfiGlobalGuid);
  if (!f) return Err() << name << " is not set";
  if (!f->error.empty()) return Err() << name << ": " << f->error;
  auto b = ParseEfiBool(f->content);
  if (!b.ok()) return Err() << name << ": " << b.error().message;
  return *b;
}

// An optional string variable: "" when absent; a problem line when it does
// not decode.
std::string ReadString(const EfiVarsInput& in, std::string_view name,
                       std::vector<std::string>& problems) {
  const EfiVarFile* f = Find(in, name, kLoaderGuid);
  if (!f) return "";
  if (!f->error.empty()) {
    problems.push_back(std::string(name) + ": " + f->error);
    return "";
  }
  auto s = ParseEfiString(f->content);
  if (!s.ok()) {
    problems.push_back(std::string(name) + ": " + s.error().message);
    return "";
  }
  return *s;
}

// Printable ASCII only: the console line must not carry escape sequences
// or bytes a terminal could misread, whatever the firmware wrote.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

}  // namespace

std::string EfiVarFileName(std::string_view name, std::string_view guid) {
  return std::string(name) + "-" + std::string(guid);
}

std::vector<std::string> EfiBootVarFileNames() {
  return {
      EfiVarFileName(kSecureBoot, kEfiGlobalGuid), EfiVarFileName(kSetupMode, kEfiGlobalGuid),
      EfiVarFileName(kStubInfo, kLoaderGuid),      EfiVarFileName(kImageIdentifier, kLoaderGuid),
      EfiVarFileName(kEntrySelected, kLoaderGuid), EfiVarFileName(kFirmwareInfo, kLoaderGuid)};
}

std::string_view SecureBootStateName(SecureBootState s) {
  switch (s) {
    case SecureBootState::kOn:
      return "on";
    case SecureBootState::kOff:
      return "off";
    case SecureBootState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Result<bool> ParseEfiBool(std::string_view content) {
  if (content.size() != kAttributesSize + 1)
    return Err() << "holds " << content.size() << " bytes, expected " << kAttributesSize + 1
                 << " (4 attribute bytes and one data byte)";
  auto v = static_cast<unsigned char>(content[kAttributesSize]);
  if (v > 1) return Err() << "data byte is " << static_cast<int>(v) << ", expected 0 or 1";
  return v == 1;
}

Result<std::string> ParseEfiString(std::string_view content) {
  if (content.size() < kAttributesSize)
    return Err() << "holds " << content.size() << " bytes, less than the 4 attribute bytes";
  std::string_view data = content.substr(kAttributesSize);
  if (data.size() % 2 != 0) return Err() << "odd UTF-16 length " << data.size();
  if (data.size() > kMaxEfiString)
    return Err() << "holds " << data.size() << " bytes of data, more than " << kMaxEfiString;
  size_t units = data.size() / 2;
  auto unit = [&](size_t i) {
    return static_cast<uint16_t>(static_cast<unsigned char>(data[2 * i]) |
                                 (static_cast<unsigned char>(data[2 * i + 1]) << 8));
  };
  if (units == 0 || unit(units - 1) != 0) return Err() << "is not NUL-terminated";
  std::string out;
  for (size_t i = 0; i + 1 < units; ++i) {
    uint32_t cp = unit(i);
    if (cp == 0) return Err() << "has a NUL at character " << i << " before the end";
    if (cp >= 0xdc00 && cp <= 0xdfff)
      return Err() << "has an unpaired low surrogate at character " << i;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      uint32_t lo = i + 2 < units ? unit(i + 1) : 0;
      if (lo < 0xdc00 || lo > 0xdfff)
        return Err() << "has an unpaired high surrogate at character " << i;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      ++i;
    }
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
      return Err() << "has control character " << cp << " at character " << i;
    AppendUtf8(out, cp);
  }
  return out;
}

EfiBootInfo DecodeEfiBoot(const EfiVarsInput& in) {
  EfiBootInfo info;
  info.efi = in.efi_firmware;
  if (!in.efi_firmware) {
    info.reason = "no EFI firmware";
    return info;
  }
  if (!in.efivarfs_problem.empty()) {
    info.reason = "efivarfs: " + in.efivarfs_problem;
    return info;
  }
  auto setup = ReadBool(in, kSetupMode);
  if (setup.ok()) info.setup_mode = *setup;
  const EfiVarFile* sb = Find(in, kSecureBoot, kEfiGlobalGuid);
  if (!sb) {
    // UEFI: firmware that implements Secure Boot always has SecureBoot.
    info.secure_boot = SecureBootState::kOff;
    info.reason = "firmware without Secure Boot";
  } else {
    auto on = ReadBool(in, kSecureBoot);
    if (on.ok())
      info.secure_boot = *on ? SecureBootState::kOn : SecureBootState::kOff;
    else
      info.reason = on.error().message;
  }
  info.stub_info = ReadString(in, kStubInfo, info.problems);
  info.image_identifier = ReadString(in, kImageIdentifier, info.problems);
  info.loader_entry = ReadString(in, kEntrySelected, info.problems);
  info.firmware_info = ReadString(in, kFirmwareInfo, info.problems);
  return info;
}

std::string EfiBootSummary(const EfiBootInfo& info) {
  std::string s(SecureBootStateName(info.secure_boot));
  if (!info.reason.empty()) {
    s += " (" + Printable(info.reason) + ")";
  } else if (info.efi && !info.setup_mode) {
    s += " (setup mode unknown)";
  } else if (info.setup_mode) {
    s += *info.setup_mode ? " (setup mode)" : " (user mode)";
  }
  auto add = [&s](std::string_view label, const std::string& v) {
    if (!v.empty()) s += ", " + std::string(label) + ": " + Printable(v);
  };
  add("stub", info.stub_info);
  add("entry", info.loader_entry);
  add("image", info.image_identifier);
  add("firmware", info.firmware_info);
  return s;
}

}  // namespace format
}  // namespace initos
