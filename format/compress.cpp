#include "format/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <vector>

namespace initos {
inline namespace format {
namespace {

constexpr size_t kChunk = 1 << 16;

class NoneCompressor : public Compressor {
 public:
  explicit NoneCompressor(Sink out) : out_(std::move(out)) {}
  Result<void> Write(std::string_view data) override { return out_(data); }
  Result<void> Finish() override { return {}; }

 private:
  Sink out_;
};

class GzipCompressor : public Compressor {
 public:
  explicit GzipCompressor(Sink out) : out_(std::move(out)) {}
  ~GzipCompressor() override {
    if (initialized_) deflateEnd(&z_);
  }

  Result<void> Init(int level) {
    // windowBits 15 + 16: a gzip wrapper rather than zlib's.
    if (deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Err() << "gzip: deflateInit2 failed";
    }
    initialized_ = true;
    // Explicit header: mtime 0, no name, OS 3 (Unix) whatever zlib was built for.
    header_.os = 3;
    if (deflateSetHeader(&z_, &header_) != Z_OK) return Err() << "gzip: deflateSetHeader failed";
    return {};
  }

  Result<void> Write(std::string_view data) override { return Run(data, Z_NO_FLUSH); }
  Result<void> Finish() override { return Run({}, Z_FINISH); }

 private:
  Result<void> Run(std::string_view data, int flush) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    std::vector<char> buf(kChunk);
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf.data());
      z_.avail_out = static_cast<uInt>(buf.size());
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) return Err() << "gzip: deflate failed";
      size_t produced = buf.size() - z_.avail_out;
      if (produced > 0) INITOS_TRY(out_(std::string_view(buf.data(), produced)));
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) {
        return {};
      }
    }
  }

  Sink out_;
  z_stream z_{};
  gz_header header_{};
  bool initialized_ = false;
};

class ZstdCompressor : public Compressor {
 public:
  explicit ZstdCompressor(Sink out) : out_(std::move(out)), ctx_(ZSTD_createCCtx()) {}
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx_); }

  Result<void> Init(int level) {
    if (ctx_ == nullptr) return Err() << "zstd: out of memory";
    size_t rc = ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(rc)) return Err() << "zstd: level " << level << ": " << ZSTD_getErrorName(rc);
    // A checksum lets the kernel reject a corrupted image instead of unpacking junk.
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_checksumFlag, 1);
    return {};
  }

  Result<void> Write(std::string_view data) override { return Run(data, ZSTD_e_continue); }
  Result<void> Finish() override { return Run({}, ZSTD_e_end); }

 private:
  Result<void> Run(std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::vector<char> buf(ZSTD_CStreamOutSize());
    for (;;) {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      size_t remaining = ZSTD_compressStream2(ctx_, &out, &in, mode);
      if (ZSTD_isError(remaining)) return Err() << "zstd: " << ZSTD_getErrorName(remaining);
      if (out.pos > 0) INITOS_TRY(out_(std::string_view(buf.data(), out.pos)));
      bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
      if (done) return {};
    }
  }

  Sink out_;
  ZSTD_CCtx* ctx_;
};

}  // namespace

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "gzip" || name == "gz") return Compression::kGzip;
  if (name == "zstd" || name == "zst") return Compression::kZstd;
  if (name == "none") return Compression::kNone;
  return Err() << "unknown compression '" << name << "'; use gzip, zstd or none";
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

Result<std::unique_ptr<Compressor>> MakeCompressor(Compression c, Sink out, int level) {
  switch (c) {
    case Compression::kNone:
      return std::unique_ptr<Compressor>(new NoneCompressor(std::move(out)));
    case Compression::kGzip: {
      auto z = std::make_unique<GzipCompressor>(std::move(out));
      INITOS_TRY(z->Init(level < 0 ? 9 : level));
      return std::unique_ptr<Compressor>(std::move(z));
    }
    case Compression::kZstd: {
      auto z = std::make_unique<ZstdCompressor>(std::move(out));
      INITOS_TRY(z->Init(level < 0 ? 12 : level));
      return std::unique_ptr<Compressor>(std::move(z));
    }
  }
  return Err() << "unknown compression";
}

Result<std::string> CompressBuffer(Compression c, std::string_view input, int level) {
  std::string out;
  auto comp = MakeCompressor(c, StringSink(&out), level);
  if (!comp.ok()) return comp.error();
  INITOS_TRY((*comp)->Write(input));
  INITOS_TRY((*comp)->Finish());
  return out;
}

}  // namespace format
}  // namespace initos
