#include "image/authenticode_time.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <memory>

namespace initos {
inline namespace image {
namespace {

struct Pkcs7Free {
  void operator()(PKCS7* p) const { PKCS7_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

}  // namespace

Result<std::string> SetSigningTime(std::string_view der, std::string_view key_pem,
                                   uint64_t unix_time) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<PKCS7, Pkcs7Free> p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7 || !PKCS7_type_is_signed(p7.get())) {
    return Err() << "sbsign's signature is not a PKCS#7 SignedData: " << OpensslError();
  }
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Err() << "signing key is not a PEM private key: " << OpensslError();
  STACK_OF(PKCS7_SIGNER_INFO)* signers = PKCS7_get_signer_info(p7.get());
  if (!signers || sk_PKCS7_SIGNER_INFO_num(signers) == 0) {
    return Err() << "sbsign's signature has no signer";
  }
  // The key must be the signer's: a signature made with another key would
  // only show up when firmware refuses the UKI.
  bool key_matches = false;
  STACK_OF(X509)* certs = p7->d.sign->cert;
  for (int i = 0; certs && i < sk_X509_num(certs); i++) {
    if (X509_check_private_key(sk_X509_value(certs, i), key.get()) == 1) key_matches = true;
  }
  ERR_clear_error();
  if (!key_matches)
    return Err() << "the signing key does not belong to the signature's certificate";
  for (int i = 0; i < sk_PKCS7_SIGNER_INFO_num(signers); i++) {
    PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(signers, i);
    ASN1_TIME* t = ASN1_TIME_set(nullptr, static_cast<time_t>(unix_time));
    // Replaces the attribute of the same type; takes t.
    if (!t || !PKCS7_add0_attrib_signing_time(si, t)) {
      ASN1_TIME_free(t);
      return Err() << "set signingTime: " << OpensslError();
    }
    // A parsed signer has no key; PKCS7_SIGNER_INFO_sign signs with si->pkey.
    EVP_PKEY_up_ref(key.get());
    EVP_PKEY_free(si->pkey);
    si->pkey = key.get();
    if (PKCS7_SIGNER_INFO_sign(si) != 1) {
      return Err() << "sign the signed attributes again (is the key the certificate's?): "
                   << OpensslError();
    }
  }
  int len = i2d_PKCS7(p7.get(), nullptr);
  if (len <= 0) return Err() << "encode PKCS#7: " << OpensslError();
  std::string out(static_cast<size_t>(len), '\0');
  unsigned char* w = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_PKCS7(p7.get(), &w) != len) return Err() << "encode PKCS#7: " << OpensslError();
  return out;
}

}  // namespace image
}  // namespace initos
