#include "format/tpm2.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

using Bytes = std::vector<uint8_t>;

Sha256Digest Counting() {
  Sha256Digest d;
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i);
  return d;
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Byte layout written out from Part 3 "TPM2_PCR_Extend" (command table) and
// Part 1 "Authorization Area": header, @pcrHandle, authorizationSize,
// TPMS_AUTH_COMMAND{TPM_RS_PW, nonce {}, attributes 0, hmac {}},
// TPML_DIGEST_VALUES{count 1, TPMT_HA{TPM_ALG_SHA256, 32 bytes}}.
TEST(Tpm2, PcrExtendCommandBytes) {
  Sha256Digest d = Counting();
  Bytes digest(d.begin(), d.end());
  Bytes want = Concat({
      {0x80, 0x02},              // TPM_ST_SESSIONS
      {0x00, 0x00, 0x00, 0x41},  // commandSize 65
      {0x00, 0x00, 0x01, 0x82},  // TPM_CC_PCR_Extend
      {0x00, 0x00, 0x00, 0x0b},  // PCR 11
      {0x00, 0x00, 0x00, 0x09},  // authorizationSize
      {0x40, 0x00, 0x00, 0x09},  // TPM_RS_PW
      {0x00, 0x00},              // nonce size 0
      {0x00},                    // session attributes
      {0x00, 0x00},              // hmac (password) size 0
      {0x00, 0x00, 0x00, 0x01},  // one digest
      {0x00, 0x0b},              // TPM_ALG_SHA256
      digest,
  });
  EXPECT_EQ(MarshalPcrExtend(11, d), want);
}

TEST(Tpm2, PcrReadCommandBytes) {
  Bytes want = {
      0x80, 0x01,              // TPM_ST_NO_SESSIONS
      0x00, 0x00, 0x00, 0x14,  // commandSize 20
      0x00, 0x00, 0x01, 0x7e,  // TPM_CC_PCR_Read
      0x00, 0x00, 0x00, 0x01,  // one TPMS_PCR_SELECTION
      0x00, 0x0b,              // SHA-256 bank
      0x03,                    // sizeofSelect
      0x00, 0x08, 0x00,        // bit 3 of byte 1: PCR 11
  };
  EXPECT_EQ(MarshalPcrRead(11), want);
  EXPECT_EQ(MarshalPcrRead(0)[17], 0x01);
  EXPECT_EQ(MarshalPcrRead(23)[19], 0x80);
}

Bytes ExtendResponse(uint32_t rc) {
  if (rc != 0)  // an error response is the header alone, tag TPM_ST_NO_SESSIONS
    return {0x80,       0x01, 0, 0, 0, 10, uint8_t(rc >> 24), uint8_t(rc >> 16), uint8_t(rc >> 8),
            uint8_t(rc)};
  return {0x80, 0x02, 0,    0, 0, 19, 0, 0, 0, 0,  // header, success
          0,    0,    0,    0,                     // parameterSize 0
          0,    0,    0x01, 0, 0};                 // auth response: nonce, attributes, hmac
}

TEST(Tpm2, PcrExtendResponseSuccess) {
  auto r = ParsePcrExtendResponse(ExtendResponse(0));
  EXPECT_TRUE(r.ok()) << r.error().str();
}

TEST(Tpm2, PcrExtendResponseErrorNamesTheCode) {
  auto r = ParsePcrExtendResponse(ExtendResponse(0x100));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(),
            "TPM2_PCR_Extend failed: TPM_RC_INITIALIZE (TPM2_Startup was not run) (0x100)");
  r = ParsePcrExtendResponse(ExtendResponse(0x921));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("TPM_RC_LOCKOUT"), std::string::npos) << r.error().str();
}

TEST(Tpm2, PcrExtendResponseSizeMismatchIsAnError) {
  Bytes b = ExtendResponse(0);
  b.push_back(0);
  auto r = ParsePcrExtendResponse(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("says 19 bytes but 20"), std::string::npos) << r.error().str();
  r = ParsePcrExtendResponse({0x80, 0x02, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("shorter than a TPM header"), std::string::npos);
}

TEST(Tpm2, ResponseCodeNames) {
  EXPECT_EQ(DescribeTpmResponseCode(0), "TPM_RC_SUCCESS");
  EXPECT_EQ(DescribeTpmResponseCode(0x101), "TPM_RC_FAILURE (the TPM is in failure mode) (0x101)");
  EXPECT_EQ(DescribeTpmResponseCode(0x922), "TPM_RC_RETRY (0x922)");
  // Format one: TPM_RC_VALUE + TPM_RC_P + TPM_RC_1 = parameter 1.
  EXPECT_EQ(DescribeTpmResponseCode(0x1c4), "TPM_RC_VALUE (0x1c4): parameter 1");
  // TPM_RC_HANDLE + TPM_RC_H + TPM_RC_1 = handle 1 (e.g. a PCR that does not exist).
  EXPECT_EQ(DescribeTpmResponseCode(0x18b), "TPM_RC_HANDLE (0x18b): handle 1");
  // TPM_RC_BAD_AUTH + TPM_RC_S + TPM_RC_1 = session 1.
  EXPECT_EQ(DescribeTpmResponseCode(0x9a2), "TPM_RC_BAD_AUTH (0x9a2): session 1");
  EXPECT_EQ(DescribeTpmResponseCode(0x1e), "TPM 1.2 error 0x1e (is the device a TPM 1.2?)");
  EXPECT_EQ(DescribeTpmResponseCode(0x90001), "software-stack response code 0x90001");
}

Bytes ReadResponse(uint8_t select_byte1, uint16_t alg, const Sha256Digest& d) {
  Bytes digest(d.begin(), d.end());
  return Concat({
      {0x80, 0x01, 0, 0, 0, 62, 0, 0, 0, 0},  // header: 62 bytes, success
      {0, 0, 0, 7},                           // pcrUpdateCounter
      {0, 0, 0, 1, uint8_t(alg >> 8), uint8_t(alg), 3, 0, select_byte1, 0},
      {0, 0, 0, 1, 0, 32},  // TPML_DIGEST: one TPM2B_DIGEST of 32 bytes
      digest,
  });
}

TEST(Tpm2, PcrReadResponse) {
  auto v = ParsePcrReadResponse(ReadResponse(0x08, kTpmAlgSha256, Counting()), 11);
  ASSERT_TRUE(v.ok()) << v.error().str();
  EXPECT_EQ(*v, Counting());
}

TEST(Tpm2, PcrReadResponseForAnotherPcrOrBankIsAnError) {
  auto v = ParsePcrReadResponse(ReadResponse(0x10, kTpmAlgSha256, Counting()), 11);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().str().find("no SHA-256 value for PCR 11"), std::string::npos);
  v = ParsePcrReadResponse(ReadResponse(0x08, 0x0004 /* SHA-1 */, Counting()), 11);
  ASSERT_FALSE(v.ok());
  // An unallocated bank: the TPM answers with an empty selection and no digest.
  Bytes empty = {0x80, 0x01, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0};
  empty.resize(24);
  v = ParsePcrReadResponse(empty, 11);
  ASSERT_FALSE(v.ok());
}

TEST(Tpm2, ExtendIsSha256OfOldAndNew) {
  Sha256Digest abc = Sha256Of("abc", 3);
  EXPECT_EQ(HexOf(abc), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(ExtendSha256(Sha256Digest{}, abc)),
            "589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d");
}

}  // namespace
}  // namespace initos
