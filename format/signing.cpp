#include "format/signing.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/file.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kMaxPemSize = 64 * 1024;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* k) {
  return {k, EVP_PKEY_free};
}

// The newest OpenSSL error as text, and clears the queue so it can't leak
// into a later, unrelated message.
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

Result<KeyType> TypeOf(EVP_PKEY* k, const std::string& source) {
  if (EVP_PKEY_is_a(k, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(k, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &len) == 1 &&
        std::string_view(group) == "prime256v1") {
      return KeyType::kEcdsaP256;
    }
    return Err() << source << ": unsupported EC curve '" << group << "' (only P-256)";
  }
  return Err() << source << ": unsupported key type " << EVP_PKEY_get0_type_name(k)
               << " (use ed25519 or ecdsa-p256)";
}

Result<std::string> Fingerprint(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(k, &der);
  if (len <= 0) return Err() << "encode public key: " << OpenSslError();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int ok = EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return Err() << "sha256: " << OpenSslError();
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 8; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<SigningKey> MakeKey(std::shared_ptr<EVP_PKEY> k, const std::string& source) {
  auto type = TypeOf(k.get(), source);
  if (!type.ok()) return type.error();
  auto fp = Fingerprint(k.get());
  if (!fp.ok()) return Wrap(fp.error(), source);
  return SigningKey{std::move(k), *type, source, *fp};
}

BioPtr MemBio(std::string_view s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

Result<std::string> BioToString(BIO* b) {
  char* data = nullptr;
  long len = BIO_get_mem_data(b, &data);
  if (len < 0) return Err() << "read PEM buffer";
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> ReadKeyFile(const std::string& path) {
  auto s = ReadFileToString(path);
  if (!s.ok()) return ErrnoErrorCode(s.error().code) << "cannot read key " << path;
  if (s->size() > kMaxPemSize) return Err() << path << ": too large to be a PEM key";
  return s;
}

}  // namespace

Result<KeyType> ParseKeyType(std::string_view name) {
  if (name == "ed25519") return KeyType::kEd25519;
  if (name == "ecdsa-p256") return KeyType::kEcdsaP256;
  return Err() << "unknown key type '" << name << "' (ed25519 or ecdsa-p256)";
}

const char* KeyTypeName(KeyType type) {
  return type == KeyType::kEd25519 ? "ed25519" : "ecdsa-p256";
}

Result<PemKeyPair> GenerateKeyPair(KeyType type) {
  EVP_PKEY* raw = type == KeyType::kEd25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                            : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!raw) return Err() << "generate " << KeyTypeName(type) << " key: " << OpenSslError();
  auto k = Own(raw);
  BioPtr priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
  if (!priv || !pub) return Err() << "allocate BIO";
  if (PEM_write_bio_PrivateKey(priv.get(), k.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), k.get()) != 1) {
    return Err() << "encode key as PEM: " << OpenSslError();
  }
  auto priv_pem = BioToString(priv.get());
  if (!priv_pem.ok()) return priv_pem.error();
  auto pub_pem = BioToString(pub.get());
  if (!pub_pem.ok()) return pub_pem.error();
  return PemKeyPair{*priv_pem, *pub_pem};
}

Result<SigningKey> ParsePrivateKeyPem(std::string_view pem, const std::string& source) {
  auto bio = MemBio(pem);
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!k) {
    ERR_clear_error();
    if (pem.find("PUBLIC KEY") != std::string_view::npos) {
      return Err() << source << ": is a public key; signing needs the private key (signing.key)";
    }
    return Err() << source << ": not a PEM private key";
  }
  return MakeKey(Own(k), source);
}

Result<SigningKey> ParsePublicKeyPem(std::string_view pem, const std::string& source) {
  auto bio = MemBio(pem);
  EVP_PKEY* k = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!k) {
    ERR_clear_error();
    if (pem.find("PRIVATE KEY") != std::string_view::npos) {
      return Err() << source << ": is a private key; trust the public key (signing.pub) instead";
    }
    return Err() << source << ": not a PEM public key";
  }
  return MakeKey(Own(k), source);
}

Result<SigningKey> LoadPrivateKey(const std::string& path) {
  auto pem = ReadKeyFile(path);
  if (!pem.ok()) return pem.error();
  return ParsePrivateKeyPem(*pem, path);
}

Result<SigningKey> LoadPublicKey(const std::string& path) {
  auto pem = ReadKeyFile(path);
  if (!pem.ok()) return pem.error();
  return ParsePublicKeyPem(*pem, path);
}

Result<std::string> Sign(const SigningKey& key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return Err() << "allocate digest context";
  // Ed25519 hashes internally (PureEdDSA): no digest may be named.
  const char* md = key.type == KeyType::kEd25519 ? nullptr : "SHA256";
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key.pkey.get(), nullptr) !=
      1) {
    return Err() << key.source << ": cannot sign: " << OpenSslError();
  }
  size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return Err() << "sign: " << OpenSslError();
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    return Err() << "sign: " << OpenSslError();
  }
  sig.resize(len);
  return sig;
}

bool VerifySignature(const SigningKey& key, std::string_view data, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  const char* md = key.type == KeyType::kEd25519 ? nullptr : "SHA256";
  bool ok = EVP_DigestVerifyInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key.pkey.get(),
                                    nullptr) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  ERR_clear_error();
  return ok;
}

Result<size_t> VerifyWithTrustedKeys(const std::vector<SigningKey>& trusted, std::string_view data,
                                     std::string_view signature) {
  if (trusted.empty()) return Err() << "no trusted keys given";
  for (size_t i = 0; i < trusted.size(); ++i) {
    if (VerifySignature(trusted[i], data, signature)) return i;
  }
  return Err() << "signature does not match any of " << trusted.size() << " trusted key"
               << (trusted.size() == 1 ? "" : "s");
}

}  // namespace format
}  // namespace initos
