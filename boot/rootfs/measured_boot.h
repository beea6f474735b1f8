// PID 1's measured boot (docs/measured-boot.md): once the root bundle is
// verified and before anything from it runs, extend PCR 11 with one event
// naming the bundle (format/measurement.h), read the PCR back, log one line
// and hand the result to the boot status record.
//
// Fail-open: a TPM that errors does not stop the boot. Verification already
// decided what may run; the measurement only lets a remote party attest
// afterwards, and a boot whose measurement failed simply fails attestation
// (its PCR 11 matches no expected value). A TPM fault must not brick a
// machine that booted a correctly signed image, so it is logged loudly
// (error level, on every boot) and recorded as measured=failed.
#pragma once

#include <string>

#include "format/boot_status.h"
#include "format/version_floor.h"

namespace initos {
inline namespace boot {

struct MeasuredBoot {
  std::string state = "none";  // pcr11, no-tpm, failed (BootStatus::measured)
  std::string event;           // hex SHA-256 of the event, when extended
  std::string pcr;             // hex PCR 11 read back, "" if that failed
};

// dev_dir: where tpmrm0/tpm0 are ("/dev" in PID 1, a directory in tests).
MeasuredBoot MeasureBootedBundle(const BootedRecord& image, const std::string& dev_dir);

// Copies the result into the status record's measured* fields.
void RecordMeasurement(const MeasuredBoot& m, BootStatus& status);

}  // namespace boot
}  // namespace initos
