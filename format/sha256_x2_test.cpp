#include "format/sha256_x2.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <string>
#include <vector>

namespace initos {
namespace {

std::vector<uint8_t> Sha256(const uint8_t* prefix, size_t prefix_len, const uint8_t* data,
                            size_t len) {
  std::vector<uint8_t> out(32);
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestInit_ex2(c, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(EVP_DigestUpdate(c, prefix, prefix_len), 1);
  EXPECT_EQ(EVP_DigestUpdate(c, data, len), 1);
  EXPECT_EQ(EVP_DigestFinal_ex(c, out.data(), nullptr), 1);
  EVP_MD_CTX_free(c);
  return out;
}

// The detection agrees with what the kernel saw (flag sha_ni in cpuinfo).
TEST(Sha256x2, DetectionMatchesCpuinfo) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool sha_ni = false;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      sha_ni = (line + " ").find(" sha_ni ") != std::string::npos;
      break;
    }
  }
  EXPECT_EQ(HaveSha256x2(), sha_ni);
}

// Every split of prefix and message over the 64-byte blocks and the padding
// (the length field in the same block as the data or in its own block),
// compared with OpenSSL, the two messages different and misaligned.
TEST(Sha256x2, MatchesOpenSsl) {
  if (!HaveSha256x2()) GTEST_SKIP() << "CPU without the SHA extensions";
  std::vector<uint8_t> buf(3 * 4096 + 64);
  for (size_t i = 0; i < buf.size(); i++) buf[i] = static_cast<uint8_t>(i * 7 + (i >> 8));
  std::vector<uint8_t> prefix(300);
  for (size_t i = 0; i < prefix.size(); i++) prefix[i] = static_cast<uint8_t>(i * 13 + 5);
  const uint8_t* a = buf.data() + 5;
  const uint8_t* b = buf.data() + 4096 + 9;
  for (size_t prefix_len : {0, 1, 31, 32, 55, 56, 63, 64, 65, 100, 128, 256}) {
    for (size_t len : {0, 1, 8, 23, 24, 31, 32, 55, 56, 63, 64, 65, 119, 120, 512, 4095, 4096}) {
      std::vector<uint8_t> out_a(32), out_b(32);
      Sha256Prefixed2x(prefix.data(), prefix_len, a, b, len, out_a.data(), out_b.data());
      EXPECT_EQ(out_a, Sha256(prefix.data(), prefix_len, a, len))
          << "prefix " << prefix_len << " len " << len;
      EXPECT_EQ(out_b, Sha256(prefix.data(), prefix_len, b, len))
          << "prefix " << prefix_len << " len " << len;
    }
  }
}

// Known answer, independent of OpenSSL: SHA-256("abc") (FIPS 180-4 example),
// split between prefix and message, and of the empty string.
TEST(Sha256x2, KnownAnswers) {
  if (!HaveSha256x2()) GTEST_SKIP() << "CPU without the SHA extensions";
  const uint8_t abc[] = {'a', 'b', 'c'};
  const std::vector<uint8_t> abc_digest = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                           0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                           0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                           0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  const std::vector<uint8_t> empty_digest = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                             0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                             0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                             0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
  std::vector<uint8_t> out_a(32), out_b(32);
  Sha256Prefixed2x(abc, 1, abc + 1, abc + 1, 2, out_a.data(), out_b.data());
  EXPECT_EQ(out_a, abc_digest);
  EXPECT_EQ(out_b, abc_digest);
  Sha256Prefixed2x(abc, 0, abc, nullptr, 0, out_a.data(), out_b.data());
  EXPECT_EQ(out_a, empty_digest);
  EXPECT_EQ(out_b, empty_digest);
}

}  // namespace
}  // namespace initos
