// A byte sink: where archive writers and compressors push their output, so
// a pipeline (cpio -> gzip -> file) streams without holding the whole image.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

using Sink = std::function<Result<void>(std::string_view)>;

// Appends everything to *out (out must outlive the sink).
Sink StringSink(std::string* out);
// Writes everything to fd (not owned).
Sink FdSink(int fd);

}  // namespace format
}  // namespace initos
