// Two-message SHA-256 (FIPS 180-4) on the x86 SHA extensions. The round and
// message-schedule steps are the ones of Intel's SHA extensions paper
// (sha256rnds2 does two rounds on the ABEF/CDGH halves of the state,
// sha256msg1/msg2 extend the schedule four words at a time); each step is
// done for message a, then for message b, so the two dependency chains
// overlap in the CPU.
#include "format/sha256_x2.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define INITOS_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#endif

namespace initos {
inline namespace format {

#if defined(__x86_64__)
namespace {

alignas(16) constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
alignas(16) constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// The state as sha256rnds2 wants it: words A,B,E,F and C,D,G,H.
struct State {
  __m128i abef, cdgh;
};

INITOS_SHA_TARGET inline __m128i ByteSwapWords() {
  return _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
}

INITOS_SHA_TARGET inline State InitialState() {
  __m128i dcba = _mm_load_si128(reinterpret_cast<const __m128i*>(kInit));
  __m128i hgfe = _mm_load_si128(reinterpret_cast<const __m128i*>(kInit + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  return {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
}

// Writes the digest: the words A..H, big endian.
INITOS_SHA_TARGET inline void StoreDigest(const State& s, uint8_t out[32]) {
  __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
  __m128i dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  __m128i hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(dcba, ByteSwapWords()));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_shuffle_epi8(hgfe, ByteSwapWords()));
}

// Runs n 64-byte blocks of a through sa and n blocks of b through sb.
INITOS_SHA_TARGET void Compress2(State& sa, State& sb, const uint8_t* a, const uint8_t* b,
                                 size_t n) {
  const __m128i swap = ByteSwapWords();
  for (; n > 0; n--, a += 64, b += 64) {
    __m128i a0 = sa.abef, a1 = sa.cdgh, b0 = sb.abef, b1 = sb.cdgh;
    __m128i wa[4], wb[4];  // the last four schedule vectors, W[4i..4i+3] in wa[i % 4]
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
      __m128i xa, xb;
      if (i < 4) {
        xa = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 16 * i)), swap);
        xb = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * i)), swap);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time.
        xa = _mm_sha256msg1_epu32(wa[i % 4], wa[(i + 1) % 4]);
        xb = _mm_sha256msg1_epu32(wb[i % 4], wb[(i + 1) % 4]);
        xa = _mm_add_epi32(xa, _mm_alignr_epi8(wa[(i + 3) % 4], wa[(i + 2) % 4], 4));
        xb = _mm_add_epi32(xb, _mm_alignr_epi8(wb[(i + 3) % 4], wb[(i + 2) % 4], 4));
        xa = _mm_sha256msg2_epu32(xa, wa[(i + 3) % 4]);
        xb = _mm_sha256msg2_epu32(xb, wb[(i + 3) % 4]);
      }
      wa[i % 4] = xa;
      wb[i % 4] = xb;
      const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kK + 4 * i));
      __m128i ta = _mm_add_epi32(xa, k);
      __m128i tb = _mm_add_epi32(xb, k);
      a1 = _mm_sha256rnds2_epu32(a1, a0, ta);
      b1 = _mm_sha256rnds2_epu32(b1, b0, tb);
      a0 = _mm_sha256rnds2_epu32(a0, a1, _mm_shuffle_epi32(ta, 0x0E));
      b0 = _mm_sha256rnds2_epu32(b0, b1, _mm_shuffle_epi32(tb, 0x0E));
    }
    sa = {_mm_add_epi32(sa.abef, a0), _mm_add_epi32(sa.cdgh, a1)};
    sb = {_mm_add_epi32(sb.abef, b0), _mm_add_epi32(sb.cdgh, b1)};
  }
}

bool DetectSha() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = ecx & bit_SSSE3, sse41 = ecx & bit_SSE4_1;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return ssse3 && sse41 && (ebx & bit_SHA);
}

}  // namespace

bool HaveSha256x2() {
  static const bool have = DetectSha();
  return have;
}

INITOS_SHA_TARGET void Sha256Prefixed2x(const uint8_t* prefix, size_t prefix_len, const uint8_t* a,
                                        const uint8_t* b, size_t len, uint8_t out_a[32],
                                        uint8_t out_b[32]) {
  State sa = InitialState(), sb = sa;
  // Whole blocks of the prefix are the same for both messages.
  const size_t prefix_blocks = prefix_len / 64;
  Compress2(sa, sb, prefix, prefix, prefix_blocks);
  const uint8_t* head = prefix + prefix_blocks * 64;
  size_t head_len = prefix_len % 64;
  size_t pos = 0;  // bytes of a and b consumed
  uint8_t ba[128], bb[128];
  if (head_len > 0 && len >= 64 - head_len) {
    // The block that straddles the end of the prefix.
    std::memcpy(ba, head, head_len);
    std::memcpy(bb, head, head_len);
    std::memcpy(ba + head_len, a, 64 - head_len);
    std::memcpy(bb + head_len, b, 64 - head_len);
    Compress2(sa, sb, ba, bb, 1);
    pos = 64 - head_len;
    head_len = 0;
  }
  // The middle straight from the input (unaligned loads are fine).
  const size_t middle = (len - pos) / 64;
  Compress2(sa, sb, a + pos, b + pos, middle);
  pos += middle * 64;
  // The rest, 0x80, zeros and the length in bits: one or two blocks.
  const size_t rest = len - pos;
  const size_t used = head_len + rest;  // < 64
  const size_t tail_blocks = used + 9 <= 64 ? 1 : 2;
  std::memset(ba, 0, sizeof(ba));
  std::memset(bb, 0, sizeof(bb));
  if (head_len) {
    std::memcpy(ba, head, head_len);
    std::memcpy(bb, head, head_len);
  }
  if (rest) {
    std::memcpy(ba + head_len, a + pos, rest);
    std::memcpy(bb + head_len, b + pos, rest);
  }
  ba[used] = bb[used] = 0x80;
  const uint64_t bits = (static_cast<uint64_t>(prefix_len) + len) * 8;
  for (int i = 0; i < 8; i++) {
    ba[tail_blocks * 64 - 1 - i] = bb[tail_blocks * 64 - 1 - i] =
        static_cast<uint8_t>(bits >> (8 * i));
  }
  Compress2(sa, sb, ba, bb, tail_blocks);
  StoreDigest(sa, out_a);
  StoreDigest(sb, out_b);
}

#else  // not x86_64

bool HaveSha256x2() {
  return false;
}

void Sha256Prefixed2x(const uint8_t*, size_t, const uint8_t*, const uint8_t*, size_t, uint8_t*,
                      uint8_t*) {
  __builtin_trap();
}

#endif

}  // namespace format
}  // namespace initos
