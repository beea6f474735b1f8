// EFI variables PID 1 reads from efivarfs to say how it was booted: the
// firmware's SecureBoot and SetupMode, and what systemd-stub (and a boot
// loader such as systemd-boot) left behind. Pure: takes file contents, never
// touches the system (os/efivarfs.h reads the files).
//
// An efivarfs file is a 4-byte little-endian attribute word followed by the
// variable's data. SecureBoot/SetupMode hold one byte (0 or 1); the
// loader-interface variables are NUL-terminated UTF-16LE strings. Whatever a
// file holds, decoding never fails hard: a variable that does not decode is
// "unknown" with the reason, because firmware and loaders are not ours to
// trust and PID 1 must boot (fail-closed, in verified mode) whatever they say.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

// EFI_GLOBAL_VARIABLE (UEFI spec): SecureBoot, SetupMode.
inline constexpr std::string_view kEfiGlobalGuid = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
// The Boot Loader Interface vendor GUID (systemd-boot, systemd-stub).
inline constexpr std::string_view kLoaderGuid = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

// The efivarfs file name of a variable: "SecureBoot-8be4df61-...".
std::string EfiVarFileName(std::string_view name, std::string_view guid);

// Every variable DecodeEfiBoot looks at, as efivarfs file names.
std::vector<std::string> EfiBootVarFileNames();

// One variable as read from efivarfs.
struct EfiVarFile {
  bool present = false;  // false: the variable does not exist (ENOENT)
  std::string content;   // attributes + data, when present and readable
  std::string error;     // a read error other than ENOENT ("" = none)
};

// What the reader found: whether this is an EFI boot at all, whether
// efivarfs could be read, and the raw variables (by efivarfs file name;
// a missing entry is the same as !present).
struct EfiVarsInput {
  bool efi_firmware = false;     // /sys/firmware/efi exists
  std::string efivarfs_problem;  // "" = efivarfs mounted and readable
  std::map<std::string, EfiVarFile> vars;
};

enum class SecureBootState { kUnknown, kOff, kOn };
std::string_view SecureBootStateName(SecureBootState s);  // "unknown", "off", "on"

struct EfiBootInfo {
  bool efi = false;  // booted through EFI firmware
  SecureBootState secure_boot = SecureBootState::kUnknown;
  // Why secure_boot is kUnknown, or that it is kOff because the firmware has
  // no SecureBoot variable at all ("" otherwise).
  std::string reason;
  std::optional<bool> setup_mode;  // nullopt: not readable
  std::string stub_info;           // StubInfo, e.g. "systemd-stub 252.39-1~deb12u1"
  std::string image_identifier;    // LoaderImageIdentifier, e.g. "\EFI\BOOT\BOOTX64.EFI"
  std::string loader_entry;        // LoaderEntrySelected (systemd-boot entry id)
  std::string firmware_info;       // LoaderFirmwareInfo, e.g. "EDK II 1.00"
  // Optional variables that were present but did not decode, one line each
  // ("StubInfo: odd UTF-16 length 7"): logged, not fatal.
  std::vector<std::string> problems;

  bool operator==(const EfiBootInfo&) const = default;
};

// The one-byte boolean of SecureBoot/SetupMode: exactly 5 bytes, data 0 or 1.
Result<bool> ParseEfiBool(std::string_view content);

// A NUL-terminated UTF-16LE string variable, as UTF-8. Refuses odd lengths,
// a missing terminator, an embedded NUL, unpaired surrogates, control
// characters and more than kMaxEfiString bytes of data.
inline constexpr size_t kMaxEfiString = 1024;
Result<std::string> ParseEfiString(std::string_view content);

EfiBootInfo DecodeEfiBoot(const EfiVarsInput& in);

// One line for the console and `initos status`, e.g.
//   "on (user mode), stub: systemd-stub 252, image: \EFI\BOOT\BOOTX64.EFI"
//   "off (setup mode), firmware: EDK II 1.00"
//   "unknown (no EFI firmware)"
// Only printable ASCII (anything else from the firmware becomes '?').
std::string EfiBootSummary(const EfiBootInfo& info);

}  // namespace format
}  // namespace initos
