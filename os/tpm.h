// The TPM executor: opens the kernel's TPM 2.0 character device and runs
// one marshalled command (format/tpm2.h) at a time. /dev/tpmrm0 (the
// kernel's resource manager, shareable) is preferred; /dev/tpm0 (raw,
// exclusive) is the fallback for kernels without it. A machine without a
// TPM is a normal outcome: OpenTpm returns nullopt, not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/tpm2.h"

namespace initos {
inline namespace os {

struct TpmDevice {
  unique_fd fd;
  std::string path;  // which node was opened, for messages
};

// dev_dir/tpmrm0, else dev_dir/tpm0. nullopt when neither exists; an error
// when one exists but cannot be opened (busy, permissions).
Result<std::optional<TpmDevice>> OpenTpm(const std::string& dev_dir = "/dev");

// Writes one command and reads its whole response (the kernel hands a
// response back in one read). Errors name the device.
Result<std::vector<uint8_t>> TpmTransmit(const TpmDevice& tpm, const std::vector<uint8_t>& cmd);

Result<void> TpmPcrExtend(const TpmDevice& tpm, uint32_t pcr, const Sha256Digest& digest);
Result<Sha256Digest> TpmPcrRead(const TpmDevice& tpm, uint32_t pcr);

}  // namespace os
}  // namespace initos
