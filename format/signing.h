// Image signing keys and detached signatures (OpenSSL 3 EVP). Ed25519 is the
// default; ECDSA P-256 (SHA-256, DER signatures) is accepted for keys kept in
// hardware that lacks Ed25519. Verification takes a LIST of trusted public
// keys so a device can trust old and new keys during a key rotation.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace initos {
inline namespace format {

enum class KeyType { kEd25519, kEcdsaP256 };

Result<KeyType> ParseKeyType(std::string_view name);  // "ed25519" | "ecdsa-p256"
const char* KeyTypeName(KeyType type);

struct PemKeyPair {
  std::string private_pem;  // PKCS#8
  std::string public_pem;   // SubjectPublicKeyInfo
};

Result<PemKeyPair> GenerateKeyPair(KeyType type);

// A loaded key; `source` names it in errors (usually the file path).
struct SigningKey {
  std::shared_ptr<EVP_PKEY> pkey;
  KeyType type = KeyType::kEd25519;
  std::string source;
  std::string fingerprint;  // first 16 hex of sha256(DER SubjectPublicKeyInfo)
};

Result<SigningKey> ParsePrivateKeyPem(std::string_view pem, const std::string& source);
Result<SigningKey> ParsePublicKeyPem(std::string_view pem, const std::string& source);
Result<SigningKey> LoadPrivateKey(const std::string& path);
Result<SigningKey> LoadPublicKey(const std::string& path);

// Detached signature over exactly `data`.
Result<std::string> Sign(const SigningKey& key, std::string_view data);

// True if `signature` is a valid signature of `data` by `key`.
bool VerifySignature(const SigningKey& key, std::string_view data, std::string_view signature);

// Index of the first trusted key that verifies; otherwise an error such as
// "signature does not match any of 2 trusted keys".
Result<size_t> VerifyWithTrustedKeys(const std::vector<SigningKey>& trusted, std::string_view data,
                                     std::string_view signature);

}  // namespace format
}  // namespace initos
