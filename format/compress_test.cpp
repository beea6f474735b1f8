#include "format/compress.h"

#include <gtest/gtest.h>

#include <random>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

using testutil::RunProgram;
using testutil::TempDir;

// Half compressible text, half noise: both deflate paths get exercised.
std::string SampleInput() {
  std::string s;
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) s += "line " + std::to_string(i % 97) + " of the initramfs\n";
  for (int i = 0; i < 200000; ++i) s.push_back(static_cast<char>(rng() & 0xff));
  return s;
}

std::string Decompress(const std::string& tool, const std::string& compressed) {
  TempDir tmp;
  EXPECT_TRUE(WriteStringToFile(tmp / "in", compressed).ok());
  auto r = RunProgram({tool, "-dc"}, "", tmp / "in");
  EXPECT_EQ(r.status, 0) << tool << ": " << r.err;
  return r.out;
}

TEST(Compress, GzipDecompressedByGzip) {
  std::string in = SampleInput();
  auto out = CompressBuffer(Compression::kGzip, in);
  ASSERT_TRUE(out.ok()) << out.error().str();
  EXPECT_LT(out->size(), in.size());
  EXPECT_EQ(Decompress("gzip", *out), in);
}

TEST(Compress, GzipHeaderIsReproducible) {
  auto out = CompressBuffer(Compression::kGzip, "x");
  ASSERT_TRUE(out.ok());
  ASSERT_GE(out->size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>((*out)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*out)[1]), 0x8b);
  EXPECT_EQ((*out)[3] & 0x08, 0);                      // FNAME: no file name stored
  EXPECT_EQ(out->substr(4, 4), std::string(4, '\0'));  // MTIME 0
  EXPECT_EQ((*out)[9], 3);                             // OS: Unix
}

TEST(Compress, ZstdDecompressedByZstd) {
  std::string in = SampleInput();
  auto out = CompressBuffer(Compression::kZstd, in, 3);
  ASSERT_TRUE(out.ok()) << out.error().str();
  EXPECT_LT(out->size(), in.size());
  EXPECT_EQ(Decompress("zstd", *out), in);
}

TEST(Compress, StreamingInSmallPiecesRoundTrips) {
  std::string in = SampleInput();
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    std::string out;
    auto comp = MakeCompressor(c, StringSink(&out), 3);
    ASSERT_TRUE(comp.ok());
    for (size_t i = 0; i < in.size(); i += 1000) {
      ASSERT_TRUE((*comp)->Write(std::string_view(in).substr(i, 1000)).ok());
    }
    ASSERT_TRUE((*comp)->Finish().ok());
    if (c == Compression::kNone) {
      EXPECT_EQ(out, in);
    } else {
      EXPECT_EQ(Decompress(c == Compression::kGzip ? "gzip" : "zstd", out), in);
    }
  }
}

TEST(Compress, SameInputSameBytes) {
  std::string in = SampleInput();
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    EXPECT_EQ(*CompressBuffer(c, in, 3), *CompressBuffer(c, in, 3)) << CompressionName(c);
  }
}

TEST(Compress, ParseNames) {
  EXPECT_EQ(*ParseCompression("gzip"), Compression::kGzip);
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(*ParseCompression("none"), Compression::kNone);
  auto bad = ParseCompression("lz4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("lz4"), std::string::npos);
}

TEST(Compress, SinkErrorsPropagate) {
  auto comp = MakeCompressor(Compression::kGzip,
                             [](std::string_view) -> Result<void> { return Err() << "disk full"; });
  ASSERT_TRUE(comp.ok());
  auto w = (*comp)->Write(SampleInput());
  auto f = (*comp)->Finish();
  EXPECT_TRUE(!w.ok() || !f.ok());
}

}  // namespace
}  // namespace initos
