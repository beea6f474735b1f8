// Building a unified kernel image (UKI): the systemd-stub EFI program with
// the os-release, kernel command line, kernel and initramfs added as PE
// sections (binutils' objcopy), optionally signed for Secure Boot with
// sbsigntool's sbsign. See docs/secure-boot.md, "UKI".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace initos {
inline namespace image {

inline constexpr char kDefaultUkiStub[] = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
// Without --cmdline: never empty (an empty .cmdline lets systemd-stub take
// the boot loader's command line even under Secure Boot).
inline constexpr char kDefaultUkiCmdline[] = "console=ttyS0 panic=-1";

struct UkiOptions {
  std::string output;
  std::string kernel;
  std::string initramfs;
  std::string cmdline = kDefaultUkiCmdline;
  std::string os_release_path;  // "" = DefaultOsRelease()
  std::string stub = kDefaultUkiStub;
  std::string key;  // sbsign --key and --cert; both or neither
  std::string cert;
  // PE TimeDateStamp (SOURCE_DATE_EPOCH); nullopt keeps the stub's own.
  std::optional<uint32_t> timestamp;
  std::string temp_dir = "/tmp";
};

// NAME, ID=initos, VERSION_ID=INITOS_VERSION, PRETTY_NAME.
std::string DefaultOsRelease();

// Writes options.output atomically (temp file + rename). Errors name the
// missing tool or input and the fix.
Result<void> BuildUki(const UkiOptions& options);

}  // namespace image
}  // namespace initos
