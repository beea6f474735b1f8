// The kernel release of an x86 bzImage, read from its setup header (the
// kernel's Documentation/arch/x86/boot.rst: "HdrS" at 0x202, the boot
// protocol version at 0x206, and at 0x20E the kernel_version field, an
// offset from 0x200 to a NUL-terminated string such as "6.1.0-57-cloud-amd64
// (debian-kernel@...) #1 SMP ..."). A VM jail's guest needs the release to
// find the kernel's modules (/lib/modules/RELEASE). Pure and bounds-checked:
// the image is input, not trusted to be well formed. ReadBzImageKernelRelease
// is the same on a file's first kBzImageHeadBytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

// Enough of the file's start for any kernel_version offset (a 16-bit
// offset from 0x200, plus the string).
inline constexpr size_t kBzImageHeadBytes = 0x200 + 0x10000 + 256;

// The release (the version string up to its first space) from the first
// bytes of a bzImage; `head` may be shorter than kBzImageHeadBytes when the
// string ends before. Errors say what is missing: not a bzImage (no
// "HdrS"), a boot protocol before 2.00, no version, a string running past
// `head` or holding non-printable bytes.
Result<std::string> BzImageKernelRelease(std::string_view head);

// BzImageKernelRelease of the file at `path` (a kernel image, or a sealed
// memfd as "/proc/self/fd/N"); errors name the path.
Result<std::string> ReadBzImageKernelRelease(const std::string& path);

}  // namespace format
}  // namespace initos
