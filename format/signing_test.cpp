#include "format/signing.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

struct Pair {
  SigningKey priv, pub;
};

Pair Make(KeyType type, const std::string& name) {
  auto pem = GenerateKeyPair(type);
  EXPECT_TRUE(pem.ok()) << pem.error().str();
  auto priv = ParsePrivateKeyPem(pem->private_pem, name + ".key");
  auto pub = ParsePublicKeyPem(pem->public_pem, name + ".pub");
  EXPECT_TRUE(priv.ok() && pub.ok());
  return {*priv, *pub};
}

TEST(SigningTest, Ed25519SignsAndVerifies) {
  Pair k = Make(KeyType::kEd25519, "a");
  EXPECT_EQ(k.pub.type, KeyType::kEd25519);
  EXPECT_EQ(k.pub.fingerprint.size(), 16u);
  EXPECT_EQ(k.pub.fingerprint, k.priv.fingerprint);
  auto sig = Sign(k.priv, "manifest bytes");
  ASSERT_TRUE(sig.ok()) << sig.error().str();
  EXPECT_EQ(sig->size(), 64u);
  auto r = VerifyWithTrustedKeys({k.pub}, "manifest bytes", *sig);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, 0u);
}

TEST(SigningTest, WrongKeyIsRefused) {
  Pair a = Make(KeyType::kEd25519, "a"), b = Make(KeyType::kEd25519, "b");
  EXPECT_NE(a.pub.fingerprint, b.pub.fingerprint);
  auto sig = Sign(a.priv, "data");
  ASSERT_TRUE(sig.ok());
  auto r = VerifyWithTrustedKeys({b.pub}, "data", *sig);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(), "signature does not match any of 1 trusted key");
}

TEST(SigningTest, RotatedKeyMatchesSecondTrustedKey) {
  Pair old_key = Make(KeyType::kEd25519, "old"), new_key = Make(KeyType::kEd25519, "new");
  auto sig = Sign(new_key.priv, "data");
  ASSERT_TRUE(sig.ok());
  auto r = VerifyWithTrustedKeys({old_key.pub, new_key.pub}, "data", *sig);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, 1u);
  Pair other = Make(KeyType::kEd25519, "other");
  auto bad = VerifyWithTrustedKeys({old_key.pub, other.pub}, "data", *sig);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().str(), "signature does not match any of 2 trusted keys");
}

TEST(SigningTest, EcdsaP256) {
  Pair k = Make(KeyType::kEcdsaP256, "ec");
  EXPECT_EQ(k.pub.type, KeyType::kEcdsaP256);
  auto sig = Sign(k.priv, "data");
  ASSERT_TRUE(sig.ok()) << sig.error().str();
  EXPECT_EQ(static_cast<uint8_t>((*sig)[0]), 0x30);  // DER SEQUENCE
  EXPECT_TRUE(VerifySignature(k.pub, "data", *sig));
  EXPECT_FALSE(VerifySignature(k.pub, "datA", *sig));
  // A mixed trust list: an Ed25519 key first must not break ECDSA matching.
  Pair ed = Make(KeyType::kEd25519, "ed");
  auto r = VerifyWithTrustedKeys({ed.pub, k.pub}, "data", *sig);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
}

TEST(SigningTest, TamperedDataOrSignatureFails) {
  Pair k = Make(KeyType::kEd25519, "a");
  std::string data = "name=x\nversion=1\n";
  auto sig = Sign(k.priv, data);
  ASSERT_TRUE(sig.ok());
  for (size_t i = 0; i < data.size(); ++i) {
    std::string d = data;
    d[i] ^= 1;
    EXPECT_FALSE(VerifySignature(k.pub, d, *sig)) << i;
  }
  std::string s = *sig;
  s[10] ^= 0x80;
  EXPECT_FALSE(VerifySignature(k.pub, data, s));
  EXPECT_FALSE(VerifySignature(k.pub, data, ""));
}

TEST(SigningTest, ClearErrorsForWrongKeyFiles) {
  auto pem = GenerateKeyPair(KeyType::kEd25519);
  ASSERT_TRUE(pem.ok());
  auto e1 = ParsePublicKeyPem(pem->private_pem, "k.key");
  ASSERT_FALSE(e1.ok());
  EXPECT_NE(e1.error().str().find("k.key: is a private key"), std::string::npos);
  auto e2 = ParsePrivateKeyPem(pem->public_pem, "k.pub");
  ASSERT_FALSE(e2.ok());
  EXPECT_NE(e2.error().str().find("k.pub: is a public key"), std::string::npos);
  auto e3 = ParsePublicKeyPem("garbage", "g.pub");
  ASSERT_FALSE(e3.ok());
  EXPECT_EQ(e3.error().str(), "g.pub: not a PEM public key");
  auto e4 = LoadPublicKey("/nonexistent/k.pub");
  ASSERT_FALSE(e4.ok());
  EXPECT_NE(e4.error().str().find("cannot read key /nonexistent/k.pub"), std::string::npos);
  EXPECT_FALSE(ParseKeyType("rsa").ok());
}

TEST(SigningTest, UnsupportedKeyType) {
  // An X25519 key is a valid PEM public key but cannot sign.
  const char* x25519 =
      "-----BEGIN PUBLIC KEY-----\n"
      "MCowBQYDK2VuAyEAhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
      "-----END PUBLIC KEY-----\n";
  auto r = ParsePublicKeyPem(x25519, "x.pub");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("unsupported key type"), std::string::npos) << r.error().str();
}

}  // namespace
}  // namespace initos
