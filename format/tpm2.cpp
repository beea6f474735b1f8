#include "format/tpm2.h"

#include <openssl/evp.h>

#include <cstdio>

namespace initos {
inline namespace format {
namespace {

constexpr size_t kHeaderSize = 10;

void PutU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// commandSize is only known at the end: written over the placeholder.
void FinishCommand(std::vector<uint8_t>& cmd) {
  uint32_t size = static_cast<uint32_t>(cmd.size());
  for (int i = 0; i < 4; ++i) cmd[2 + i] = static_cast<uint8_t>(size >> (24 - 8 * i));
}

std::vector<uint8_t> StartCommand(uint16_t tag, uint32_t code) {
  std::vector<uint8_t> cmd;
  PutU16(cmd, tag);
  PutU32(cmd, 0);  // commandSize, see FinishCommand
  PutU32(cmd, code);
  return cmd;
}

// TPMS_PCR_SELECTION for one PCR of the SHA-256 bank: sizeofSelect 3 covers
// PCRs 0-23, the minimum a PC Client TPM accepts.
void PutPcrSelection(std::vector<uint8_t>& out, uint32_t pcr) {
  PutU16(out, kTpmAlgSha256);
  out.push_back(3);
  uint8_t select[3] = {0, 0, 0};
  if (pcr <= kTpmMaxPcr) select[pcr / 8] = static_cast<uint8_t>(1u << (pcr % 8));
  out.insert(out.end(), select, select + 3);
}

// A cursor over a response; every read is bounds-checked.
struct Reader {
  const std::vector<uint8_t>& b;
  size_t at = 0;
  bool ok = true;
  uint32_t Take(size_t n) {
    if (at + n > b.size()) {
      ok = false;
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | b[at + i];
    at += n;
    return v;
  }
  uint16_t U16() { return static_cast<uint16_t>(Take(2)); }
  uint32_t U32() { return Take(4); }
  uint8_t U8() { return static_cast<uint8_t>(Take(1)); }
};

struct RcName {
  uint32_t rc;
  const char* name;
};

// Part 2, table "TPM_RC Constants": format-zero errors (0x100 + n) and
// warnings (0x900 + n).
constexpr RcName kFormatZero[] = {
    {0x100, "TPM_RC_INITIALIZE (TPM2_Startup was not run)"},
    {0x101, "TPM_RC_FAILURE (the TPM is in failure mode)"},
    {0x103, "TPM_RC_SEQUENCE"},
    {0x10B, "TPM_RC_PRIVATE"},
    {0x119, "TPM_RC_HMAC"},
    {0x120, "TPM_RC_DISABLED"},
    {0x121, "TPM_RC_EXCLUSIVE"},
    {0x124, "TPM_RC_AUTH_TYPE"},
    {0x125, "TPM_RC_AUTH_MISSING"},
    {0x126, "TPM_RC_POLICY"},
    {0x127, "TPM_RC_PCR"},
    {0x128, "TPM_RC_PCR_CHANGED"},
    {0x12D, "TPM_RC_UPGRADE"},
    {0x12E, "TPM_RC_TOO_MANY_CONTEXTS"},
    {0x12F, "TPM_RC_AUTH_UNAVAILABLE"},
    {0x130, "TPM_RC_REBOOT"},
    {0x131, "TPM_RC_UNBALANCED"},
    {0x142, "TPM_RC_COMMAND_SIZE"},
    {0x143, "TPM_RC_COMMAND_CODE (command not implemented)"},
    {0x144, "TPM_RC_AUTHSIZE"},
    {0x145, "TPM_RC_AUTH_CONTEXT"},
    {0x146, "TPM_RC_NV_RANGE"},
    {0x147, "TPM_RC_NV_SIZE"},
    {0x148, "TPM_RC_NV_LOCKED"},
    {0x149, "TPM_RC_NV_AUTHORIZATION"},
    {0x14A, "TPM_RC_NV_UNINITIALIZED"},
    {0x14B, "TPM_RC_NV_SPACE"},
    {0x14C, "TPM_RC_NV_DEFINED"},
    {0x150, "TPM_RC_BAD_CONTEXT"},
    {0x151, "TPM_RC_CPHASH"},
    {0x152, "TPM_RC_PARENT"},
    {0x153, "TPM_RC_NEEDS_TEST"},
    {0x154, "TPM_RC_NO_RESULT"},
    {0x155, "TPM_RC_SENSITIVE"},
    {0x901, "TPM_RC_CONTEXT_GAP"},
    {0x902, "TPM_RC_OBJECT_MEMORY"},
    {0x903, "TPM_RC_SESSION_MEMORY"},
    {0x904, "TPM_RC_MEMORY"},
    {0x905, "TPM_RC_SESSION_HANDLES"},
    {0x906, "TPM_RC_OBJECT_HANDLES"},
    {0x907, "TPM_RC_LOCALITY"},
    {0x908, "TPM_RC_YIELDED"},
    {0x909, "TPM_RC_CANCELED"},
    {0x90A, "TPM_RC_TESTING (self test running, retry)"},
    {0x920, "TPM_RC_NV_RATE"},
    {0x921, "TPM_RC_LOCKOUT (dictionary-attack lockout)"},
    {0x922, "TPM_RC_RETRY"},
    {0x923, "TPM_RC_NV_UNAVAILABLE"},
};

// Format-one errors (bit 7 set): 0x080 + the error number in bits 0-5.
constexpr RcName kFormatOne[] = {
    {0x081, "TPM_RC_ASYMMETRIC"}, {0x082, "TPM_RC_ATTRIBUTES"}, {0x083, "TPM_RC_HASH"},
    {0x084, "TPM_RC_VALUE"},      {0x085, "TPM_RC_HIERARCHY"},  {0x087, "TPM_RC_KEY_SIZE"},
    {0x088, "TPM_RC_MGF"},        {0x089, "TPM_RC_MODE"},       {0x08A, "TPM_RC_TYPE"},
    {0x08B, "TPM_RC_HANDLE"},     {0x08C, "TPM_RC_KDF"},        {0x08D, "TPM_RC_RANGE"},
    {0x08E, "TPM_RC_AUTH_FAIL"},  {0x08F, "TPM_RC_NONCE"},      {0x090, "TPM_RC_PP"},
    {0x092, "TPM_RC_SCHEME"},     {0x095, "TPM_RC_SIZE"},       {0x096, "TPM_RC_SYMMETRIC"},
    {0x097, "TPM_RC_TAG"},        {0x098, "TPM_RC_SELECTOR"},   {0x09A, "TPM_RC_INSUFFICIENT"},
    {0x09B, "TPM_RC_SIGNATURE"},  {0x09C, "TPM_RC_KEY"},        {0x09D, "TPM_RC_POLICY_FAIL"},
    {0x09F, "TPM_RC_INTEGRITY"},  {0x0A0, "TPM_RC_TICKET"},     {0x0A1, "TPM_RC_RESERVED_BITS"},
    {0x0A2, "TPM_RC_BAD_AUTH"},   {0x0A3, "TPM_RC_EXPIRED"},    {0x0A4, "TPM_RC_POLICY_CC"},
    {0x0A5, "TPM_RC_BINDING"},    {0x0A6, "TPM_RC_CURVE"},      {0x0A7, "TPM_RC_ECC_POINT"},
};

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

template <size_t N>
const char* Lookup(const RcName (&table)[N], uint32_t rc) {
  for (const auto& e : table)
    if (e.rc == rc) return e.name;
  return nullptr;
}

// Header checks shared by both responses: tag, responseSize == bytes read,
// responseCode 0. Leaves the reader after the header.
Result<void> CheckHeader(Reader& r, const char* command, uint16_t want_tag) {
  uint16_t tag = r.U16();
  uint32_t size = r.U32();
  uint32_t rc = r.U32();
  if (!r.ok)
    return Err() << command << ": response of " << r.b.size()
                 << " bytes is shorter than a TPM header; is the device a TPM 2.0?";
  if (size != r.b.size())
    return Err() << command << ": response says " << size << " bytes but " << r.b.size()
                 << " arrived; is the device a TPM 2.0?";
  if (rc != 0) return Err() << command << " failed: " << DescribeTpmResponseCode(rc);
  if (tag != want_tag)
    return Err() << command << ": response tag " << Hex(tag) << " instead of " << Hex(want_tag);
  return {};
}

}  // namespace

std::vector<uint8_t> MarshalPcrExtend(uint32_t pcr, const Sha256Digest& digest) {
  std::vector<uint8_t> cmd = StartCommand(kTpmStSessions, kTpmCcPcrExtend);
  PutU32(cmd, pcr);  // @pcrHandle: a PCR's handle is its number
  // Authorization area: one TPMS_AUTH_COMMAND of 9 bytes.
  PutU32(cmd, 9);         // authorizationSize
  PutU32(cmd, kTpmRsPw);  // sessionHandle
  PutU16(cmd, 0);         // nonceCaller: empty TPM2B
  cmd.push_back(0);       // sessionAttributes
  PutU16(cmd, 0);         // hmac: the empty password
  // TPML_DIGEST_VALUES with one TPMT_HA.
  PutU32(cmd, 1);
  PutU16(cmd, kTpmAlgSha256);
  cmd.insert(cmd.end(), digest.begin(), digest.end());
  FinishCommand(cmd);
  return cmd;
}

std::vector<uint8_t> MarshalPcrRead(uint32_t pcr) {
  std::vector<uint8_t> cmd = StartCommand(kTpmStNoSessions, kTpmCcPcrRead);
  PutU32(cmd, 1);  // TPML_PCR_SELECTION.count
  PutPcrSelection(cmd, pcr);
  FinishCommand(cmd);
  return cmd;
}

std::string DescribeTpmResponseCode(uint32_t rc) {
  if (rc == 0) return "TPM_RC_SUCCESS";
  if (rc > 0xFFF)  // bits above 11 are a software layer's (resource manager, TSS)
    return "software-stack response code " + Hex(rc);
  if (rc & 0x080) {  // format one: error number plus which handle/session/parameter
    const char* name = Lookup(kFormatOne, 0x080 | (rc & 0x3F));
    std::string out =
        std::string(name ? name : "TPM_RC_(unknown format-one error)") + " (" + Hex(rc) + ")";
    uint32_t n = (rc >> 8) & 0xF;
    if (rc & 0x040) return out + ": parameter " + std::to_string(n);
    if (rc & 0x800) return out + ": session " + std::to_string(n & 7);
    if ((n & 7) != 0) return out + ": handle " + std::to_string(n & 7);
    return out;
  }
  if (!(rc & 0x100)) return "TPM 1.2 error " + Hex(rc) + " (is the device a TPM 1.2?)";
  if (rc & 0x400) return "vendor-defined response code " + Hex(rc);
  const char* name = Lookup(kFormatZero, rc);
  if (name) return std::string(name) + " (" + Hex(rc) + ")";
  return std::string(rc & 0x800 ? "unknown TPM warning" : "unknown TPM error") + " " + Hex(rc);
}

Result<void> ParsePcrExtendResponse(const std::vector<uint8_t>& response) {
  Reader r{response};
  INITOS_TRY(CheckHeader(r, "TPM2_PCR_Extend", kTpmStSessions));
  // parameterSize (0: no out parameters), then one TPMS_AUTH_RESPONSE.
  uint32_t params = r.U32();
  if (!r.ok || params != 0 || r.at + params > response.size())
    return Err() << "TPM2_PCR_Extend: malformed response (" << response.size() << " bytes)";
  return {};
}

Result<Sha256Digest> ParsePcrReadResponse(const std::vector<uint8_t>& response, uint32_t pcr) {
  Reader r{response};
  INITOS_TRY(CheckHeader(r, "TPM2_PCR_Read", kTpmStNoSessions));
  (void)r.U32();  // pcrUpdateCounter
  uint32_t selections = r.U32();
  uint16_t alg = r.U16();
  uint8_t size_of_select = r.U8();
  std::vector<uint8_t> select;
  for (uint8_t i = 0; i < size_of_select && r.ok; ++i) select.push_back(r.U8());
  uint32_t digests = r.U32();
  uint16_t digest_size = r.U16();
  if (!r.ok)
    return Err() << "TPM2_PCR_Read: response of " << response.size() << " bytes is cut short";
  bool selected = pcr / 8 < select.size() && (select[pcr / 8] & (1u << (pcr % 8)));
  if (selections != 1 || alg != kTpmAlgSha256 || !selected || digests != 1)
    return Err() << "TPM2_PCR_Read: the TPM returned no SHA-256 value for PCR " << pcr
                 << "; is the SHA-256 PCR bank allocated (tpm2_pcrallocate)?";
  if (digest_size != 32 || r.at + 32 != response.size())
    return Err() << "TPM2_PCR_Read: digest of " << digest_size << " bytes in a response of "
                 << response.size() << " bytes, expected 32";
  Sha256Digest d;
  for (auto& b : d) b = r.U8();
  return d;
}

Sha256Digest Sha256Of(const void* data, size_t size) {
  Sha256Digest d{};
  unsigned int len = 0;
  EVP_Digest(data, size, d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

Sha256Digest ExtendSha256(const Sha256Digest& old, const Sha256Digest& digest) {
  uint8_t both[64];
  std::copy(old.begin(), old.end(), both);
  std::copy(digest.begin(), digest.end(), both + 32);
  return Sha256Of(both, sizeof(both));
}

std::string HexOf(const Sha256Digest& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace format
}  // namespace initos
