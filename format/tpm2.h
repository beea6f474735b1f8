// TPM 2.0 command marshalling for the two commands measured boot needs
// (TPM 2.0 Library Specification, Part 3: Commands, sections PCR_Extend and
// PCR_Read; structures from Part 2). Pure: bytes in, bytes out; os/tpm.h
// writes them to /dev/tpmrm0 and reads the answer.
//
// Every TPM number is big-endian on the wire. A command is a 10-byte header
// (tag u16, commandSize u32, commandCode u32), then handles, then (for
// TPM_ST_SESSIONS) an authorization area, then parameters.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

using Sha256Digest = std::array<uint8_t, 32>;

inline constexpr uint16_t kTpmStNoSessions = 0x8001;
inline constexpr uint16_t kTpmStSessions = 0x8002;
inline constexpr uint32_t kTpmCcPcrExtend = 0x00000182;
inline constexpr uint32_t kTpmCcPcrRead = 0x0000017E;
inline constexpr uint16_t kTpmAlgSha256 = 0x000B;
inline constexpr uint32_t kTpmRsPw = 0x40000009;  // the empty-password session
inline constexpr uint32_t kTpmMaxPcr = 23;        // PC Client TPMs have PCRs 0-23

// TPM2_PCR_Extend(pcr, {SHA-256: digest}) authorised by TPM_RS_PW with an
// empty password: PCRs 0-15 need no auth value beyond that on PC TPMs.
std::vector<uint8_t> MarshalPcrExtend(uint32_t pcr, const Sha256Digest& digest);

// TPM2_PCR_Read of one PCR in the SHA-256 bank.
std::vector<uint8_t> MarshalPcrRead(uint32_t pcr);

// The response code's name and meaning, e.g. "TPM_RC_LOCKOUT (0x921)",
// "TPM_RC_VALUE (0x1c4): parameter 1", "TPM 1.2 error 0x3". 0 is "TPM_RC_SUCCESS".
std::string DescribeTpmResponseCode(uint32_t rc);

// Checks a PCR_Extend response: header sane, size matches, rc 0. The error
// names the response code ("TPM2_PCR_Extend failed: TPM_RC_...").
Result<void> ParsePcrExtendResponse(const std::vector<uint8_t>& response);

// The SHA-256 value of `pcr` from a PCR_Read response; an error when the TPM
// answered for another PCR or bank (e.g. the SHA-256 bank is not allocated).
Result<Sha256Digest> ParsePcrReadResponse(const std::vector<uint8_t>& response, uint32_t pcr);

// What an extend does inside the TPM: SHA-256(old || digest).
Sha256Digest ExtendSha256(const Sha256Digest& old, const Sha256Digest& digest);

Sha256Digest Sha256Of(const void* data, size_t size);
std::string HexOf(const Sha256Digest& d);

}  // namespace format
}  // namespace initos
