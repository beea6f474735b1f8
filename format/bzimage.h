// The kernel release of an x86 bzImage, from its setup header (pure): the
// boot protocol's "HdrS" magic at 0x202, and at 0x20e the offset (minus
// 0x200) of a NUL-terminated version string whose first word is the
// release, e.g. "6.1.0-57-cloud-amd64 (debian-kernel@...) #1 SMP ...".
// NOTE: minimal stand-in written by the vmguest branch against H1's
// interface (issue 11); H1's format/bzimage.{h,cpp} replaces it at merge.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

// `header`: the first bytes of the file (the version string lies within the
// setup sectors; 64 KiB is always enough).
Result<std::string> BzImageVersion(std::string_view header);

}  // namespace format
}  // namespace initos
