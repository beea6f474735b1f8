// The boot status record: what PID 1 booted, written to /run/initos/status
// before the switch-root handover so it moves into the OS's /run (and is
// copied into the SSH sidecar's own /run). `initos status` reads it.
//
// Format: strict "key=value\n" lines, every key exactly once, in any order:
//   image=debian            image name from the manifest, "none" without a verified root
//   version=1               image version (0 for "none")
//   root-hash=ab12...       lowercase hex verity root hash ("" for "none")
//   mode=switch-root        init.mode: run, switch-root or jail
//   source=PARTLABEL=debian rootfs.image as configured ("" for "none")
//   initos=0.1.0            the initos version that booted it
//   booted-at=4.630000      CLOCK_BOOTTIME seconds when the record was made
//   secure-boot=on (user mode), stub: systemd-stub 252
//                           EFI Secure Boot as PID 1 read it (format/efi_vars.h)
//   trust=verified          verified, or development (rootfs.insecure-dev-mode)
//   measured=pcr11          measured boot (docs/measured-boot.md): pcr11 (the
//                           bundle event was extended into PCR 11), no-tpm,
//                           failed (a TPM that errored; the boot went on), or
//                           none (nothing to measure: no verified root)
//   measured-event=ab12...  SHA-256 of the event (hex), "" unless pcr11
//   measured-pcr=cd34...    PCR 11 read back after the extend (hex), "" unless
//                           pcr11 (or when the read-back failed)
//   slot=b                  only with rootfs.slots: the A/B slot booted (optional)
// Anything else (unknown or repeated keys, a missing newline, bad values) is
// an error naming the line: a damaged record must not print plausible lies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

inline constexpr char kBootStatusPath[] = "/run/initos/status";

struct BootStatus {
  std::string image = "none";
  uint64_t version = 0;
  std::string root_hash;
  std::string mode = "run";
  std::string source;
  std::string initos_version;
  double booted_at = 0;                            // CLOCK_BOOTTIME seconds
  std::string secure_boot = "unknown (not read)";  // EfiBootSummary: printable ASCII
  std::string trust = "verified";                  // "verified" or "development"
  std::string measured = "none";
  std::string measured_event;
  std::string measured_pcr;
  std::string slot;  // "a"/"b" with rootfs.slots, "" otherwise (key absent)
  bool operator==(const BootStatus&) const = default;
};

std::string SerializeBootStatus(const BootStatus& s);
Result<BootStatus> ParseBootStatus(std::string_view text);

// Writes the record to path atomically (a temp file beside it + rename), so
// a reader sees the old record or the new one, never half of one. Creates
// the parent directory.
Result<void> WriteBootStatus(const std::string& path, const BootStatus& s);

// CLOCK_BOOTTIME in seconds (counts suspend too, like /proc/uptime).
double BootTimeSeconds();

}  // namespace format
}  // namespace initos
