#include "format/bzimage.h"

#include <cstdint>

namespace initos {
inline namespace format {

Result<std::string> BzImageKernelRelease(std::string_view header) {
  constexpr size_t kMagicOff = 0x202, kVersionPtrOff = 0x20e;
  if (header.size() < kVersionPtrOff + 2 || header.substr(kMagicOff, 4) != "HdrS")
    return Err() << "not a bzImage (no \"HdrS\" setup header at 0x202); give the kernel image "
                    "(vmlinuz), not vmlinux or an initrd";
  uint16_t ptr = static_cast<uint16_t>(uint8_t(header[kVersionPtrOff]) |
                                       uint8_t(header[kVersionPtrOff + 1]) << 8);
  size_t at = size_t{ptr} + 0x200;
  if (ptr == 0 || at >= header.size())
    return Err() << "bzImage has no kernel version string in its first " << header.size()
                 << " bytes; set jail.vm.kernel-modules";
  std::string_view rest = header.substr(at);
  std::string_view release = rest.substr(0, rest.find_first_of(std::string_view(" \0", 2)));
  if (release.empty() || release.size() > 64)
    return Err() << "bzImage kernel version string is empty or malformed; set "
                    "jail.vm.kernel-modules";
  for (char c : release)
    if (static_cast<unsigned char>(c) < 0x21 || c == '/' || static_cast<unsigned char>(c) >= 0x7f)
      return Err() << "bzImage kernel version has an unexpected character; set "
                      "jail.vm.kernel-modules";
  return std::string(release);
}

}  // namespace format
}  // namespace initos
