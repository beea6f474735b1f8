// The kernel release of an x86 bzImage, from its setup header (pure): the
// boot protocol's "HdrS" magic at 0x202, and at 0x20e the offset (minus
// 0x200) of a NUL-terminated version string whose first word is the
// release, e.g. "6.1.0-57-cloud-amd64 (debian-kernel@...) #1 SMP ...".
// NOTE: minimal stand-in written by the vmguest branch with the names of
// H1's format/bzimage.h (branch vmconfig, issue 11), which replaces it at
// the merge: take H1's three files.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

// How many bytes of the file to read: the version string lies within the
// setup sectors.
inline constexpr size_t kBzImageHeadBytes = 0x200 + 0x10000 + 256;

// `head`: the first bytes of the file (up to kBzImageHeadBytes).
Result<std::string> BzImageKernelRelease(std::string_view head);

}  // namespace format
}  // namespace initos
