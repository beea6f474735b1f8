// sbsign's Authenticode signature carries a PKCS#9 signingTime of "now"
// (OpenSSL adds it), the one thing that keeps two signed builds of the same
// UKI apart: RSA PKCS#1 v1.5 signatures are otherwise deterministic. This
// rewrites the signingTime of a detached signature (sbsign --detached) and
// signs the signed attributes again with the same key, so a release signed
// with SOURCE_DATE_EPOCH is byte-identical when rebuilt and signed again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace image {

// pkcs7_der: the DER PKCS#7 SignedData of `sbsign --detached`; key_pem: its
// private key (PEM). Returns the DER with every signer's signingTime set to
// `unix_time` and its signature over the signed attributes redone.
Result<std::string> SetSigningTime(std::string_view pkcs7_der, std::string_view key_pem,
                                   uint64_t unix_time);

}  // namespace image
}  // namespace initos
