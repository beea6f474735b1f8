// SHA-256 of two messages at once with the x86 SHA extensions, for the
// dm-verity hash tree. One SHA-256 block is a chain of 32 dependent
// sha256rnds2 instructions, so a single message leaves the unit idle between
// them (OpenSSL's sha256_block_data_order_shaext is bound by that latency);
// running two independent messages through the same loop fills those gaps.
// The Linux kernel does the same for dm-verity (sha256_finup_2x). Anything
// else (another CPU, another digest) keeps using OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>

namespace initos {
inline namespace format {

// True when the CPU has the SHA extensions (and SSSE3/SSE4.1), i.e. when
// Sha256Prefixed2x may be called.
bool HaveSha256x2();

// out_a = SHA-256(prefix || a), out_b = SHA-256(prefix || b), where a and b
// are both len bytes. Only call when HaveSha256x2().
void Sha256Prefixed2x(const uint8_t* prefix, size_t prefix_len, const uint8_t* a, const uint8_t* b,
                      size_t len, uint8_t out_a[32], uint8_t out_b[32]);

}  // namespace format
}  // namespace initos
