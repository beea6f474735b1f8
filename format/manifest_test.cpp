#include "format/manifest.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

Manifest Good() {
  Manifest m;
  m.name = "debian-demo";
  m.version = 42;
  m.created = 1700000000;
  m.data_offset = 65536;
  m.data_size = 8 * 4096;
  m.hash_offset = 65536 + 8 * 4096;
  m.hash_size = 2 * 4096;
  m.salt = "00ff";
  m.root_hash = std::string(64, 'a');
  m.uuid = "01234567-89ab-cdef-0123-456789abcdef";
  return m;
}

constexpr ManifestLimits kLimits{65536, 1 << 20};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return text.replace(pos, from.size(), to);
}

std::string ParseError(const std::string& text, ManifestLimits limits = kLimits) {
  auto r = ParseManifest(text, limits);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error().str();
}

TEST(ManifestTest, RoundTripIsCanonical) {
  std::string text = SerializeManifest(Good());
  EXPECT_EQ(text.rfind("initos-manifest=1\nname=debian-demo\nversion=42\n", 0), 0u) << text;
  auto m = ParseManifest(text, kLimits);
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(*m, Good());
  EXPECT_EQ(SerializeManifest(*m), text);
}

TEST(ManifestTest, KeyOrderIsFreeButSerializationIsNot) {
  std::string text = SerializeManifest(Good());
  // Move the first line to the end.
  size_t nl = text.find('\n');
  std::string swapped = text.substr(nl + 1) + text.substr(0, nl + 1);
  auto m = ParseManifest(swapped, kLimits);
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(SerializeManifest(*m), text);
}

TEST(ManifestTest, RejectsTruncated) {
  std::string text = SerializeManifest(Good());
  EXPECT_NE(ParseError(text.substr(0, text.size() - 1)).find("truncated"), std::string::npos);
  EXPECT_NE(ParseError(text.substr(0, text.find("uuid="))).find("missing key 'uuid'"),
            std::string::npos);
  EXPECT_NE(ParseError("").find("empty"), std::string::npos);
}

TEST(ManifestTest, RejectsOversized) {
  std::string text = SerializeManifest(Good());
  text += std::string(kManifestMaxSize, 'x');
  EXPECT_NE(ParseError(text).find("over the"), std::string::npos);
}

TEST(ManifestTest, RejectsDuplicateUnknownAndMalformedLines) {
  std::string text = SerializeManifest(Good());
  EXPECT_NE(ParseError(text + "name=other\n").find("duplicate key 'name'"), std::string::npos);
  EXPECT_NE(ParseError(text + "color=blue\n").find("unknown key 'color'"), std::string::npos);
  EXPECT_NE(ParseError(text + "\n").find("not key=value"), std::string::npos);
  EXPECT_NE(ParseError(Replace(text, "name=", "name =")).find("unknown key"), std::string::npos);
  EXPECT_NE(
      ParseError(Replace(text, "\nversion=42\n", "\r\nversion=42\n")).find("control or non-ASCII"),
      std::string::npos);
}

TEST(ManifestTest, RejectsBadNumbers) {
  std::string text = SerializeManifest(Good());
  EXPECT_NE(ParseError(Replace(text, "version=42", "version=4x2")).find("not a decimal number"),
            std::string::npos);
  EXPECT_NE(ParseError(Replace(text, "version=42", "version=-1")).find("not a decimal number"),
            std::string::npos);
  EXPECT_NE(ParseError(Replace(text, "version=42", "version=042")).find("leading zero"),
            std::string::npos);
  EXPECT_NE(ParseError(Replace(text, "version=42", "version=18446744073709551616"))
                .find("overflows 64 bits"),
            std::string::npos);
  EXPECT_NE(ParseError(Replace(text, "data_block_size=4096", "data_block_size=4294967296"))
                .find("overflows 32 bits"),
            std::string::npos);
  // The largest value is fine.
  auto m = ParseManifest(Replace(text, "version=42", "version=18446744073709551615"), kLimits);
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(m->version, UINT64_MAX);
}

TEST(ManifestTest, RejectsOverflowingRegions) {
  Manifest m = Good();
  m.hash_offset = UINT64_MAX - 4095;  // aligned, but + size wraps
  auto e = ParseError(SerializeManifest(m), {65536, UINT64_MAX});
  EXPECT_NE(e.find("hash region end overflows"), std::string::npos) << e;
}

TEST(ManifestTest, RejectsMisaligned) {
  Manifest m = Good();
  m.data_size += 512;
  EXPECT_NE(ParseError(SerializeManifest(m)).find("data_size 33280 is not a multiple of 4096"),
            std::string::npos);
  m = Good();
  m.hash_offset += 1;
  EXPECT_NE(ParseError(SerializeManifest(m)).find("hash_offset"), std::string::npos);
  m = Good();
  m.data_block_size = 3000;
  EXPECT_NE(ParseError(SerializeManifest(m)).find("data_block_size 3000"), std::string::npos);
}

TEST(ManifestTest, RejectsOverlaps) {
  Manifest m = Good();
  m.hash_offset = m.data_offset + 4096;  // inside data
  EXPECT_NE(ParseError(SerializeManifest(m)).find("overlaps hash region"), std::string::npos);
  m = Good();
  m.data_offset = 4096;  // inside the header area
  EXPECT_NE(ParseError(SerializeManifest(m)).find("overlaps the header area"), std::string::npos);
  m = Good();
  m.hash_offset = 0;
  EXPECT_NE(ParseError(SerializeManifest(m)).find("hash region at 0 overlaps the header area"),
            std::string::npos);
}

TEST(ManifestTest, RejectsRegionsBeyondDevice) {
  std::string text = SerializeManifest(Good());
  uint64_t end = Good().hash_offset + Good().hash_size;
  EXPECT_TRUE(ParseManifest(text, {65536, end}).ok());
  auto e = ParseError(text, {65536, end - 1});
  EXPECT_NE(e.find("device has only"), std::string::npos) << e;
}

TEST(ManifestTest, RejectsBadValues) {
  auto err = [](void (*mut)(Manifest&)) {
    Manifest m = Good();
    mut(m);
    return ParseError(SerializeManifest(m));
  };
  EXPECT_NE(err([](Manifest& m) { m.name = "a b"; }).find("name"), std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.name = ""; }).find("name"), std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.fs_type = "ext4"; }).find("fs_type"), std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.hash_algorithm = "md5"; }).find("hash_algorithm"),
            std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.root_hash = std::string(63, 'a'); }).find("root_hash"),
            std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.root_hash = std::string(64, 'A'); }).find("root_hash"),
            std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.salt = "abc"; }).find("salt"), std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.uuid = "0123456789abcdef0123456789abcdef"; }).find("uuid"),
            std::string::npos);
  EXPECT_NE(err([](Manifest& m) { m.format = 2; }).find("unsupported format version 2"),
            std::string::npos);
}

}  // namespace
}  // namespace initos
