// Streaming compression for initramfs images: gzip (zlib) and zstd, the two
// formats linux-image-cloud-amd64 unpacks, plus "none". Output is
// reproducible: the gzip header has mtime 0, no file name and OS "Unix".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "format/sink.h"

namespace initos {
inline namespace format {

enum class Compression { kNone, kGzip, kZstd };

// "gzip" | "zstd" | "none".
Result<Compression> ParseCompression(std::string_view name);
std::string_view CompressionName(Compression c);

// Push data with Write(), then Finish() exactly once to flush the trailer.
class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual Result<void> Write(std::string_view data) = 0;
  virtual Result<void> Finish() = 0;
};

// level -1: the default for initramfs use (gzip 9; zstd 12: near -19's ratio
// on the initos binary at a tenth of the time).
Result<std::unique_ptr<Compressor>> MakeCompressor(Compression c, Sink out, int level = -1);

// One-shot helper for whole buffers.
Result<std::string> CompressBuffer(Compression c, std::string_view input, int level = -1);

}  // namespace format
}  // namespace initos
