// What measured boot puts into PCR 11, computed without a TPM
// (docs/measured-boot.md). Two parts extend the same PCR, in this order:
//
// 1. systemd-stub (systemd 252, Debian 12's systemd-boot-efi) measures the
//    UKI it boots: for each of the sections below that the PE file has, in
//    this fixed order, two extends: SHA-256 of the section's name including
//    its terminating NUL (".linux\0"), then SHA-256 of the section's data as
//    loaded in memory, VirtualSize bytes. (.pcrsig exists in 252 but is
//    never measured: it holds the signature of the value being computed.)
// 2. PID 1, after the root bundle is verified, extends ONE event: SHA-256
//    of BundleEventText(name, version, root hash).
//
// PCR 11 starts at 32 zero bytes after a TPM reset; the firmware never
// touches it (it owns PCRs 0-7), so the final value depends only on the
// UKI's content and the bundle's identity.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "format/tpm2.h"

namespace initos {
inline namespace format {

inline constexpr uint32_t kMeasuredBootPcr = 11;

// systemd 252's measurement order (src/boot/efi/stub.c, UnifiedSection).
inline constexpr const char* kStubMeasuredSections[] = {".linux",  ".osrel", ".cmdline", ".initrd",
                                                        ".splash", ".dtb",   ".pcrpkey"};

// The event text, exactly (no trailing spaces, each line ends in "\n"):
//   "initos-bundle\nname=NAME\nversion=VERSION\nroot-hash=ROOTHASH\n"
// VERSION decimal, ROOTHASH the manifest's lowercase hex verity root hash.
std::string BundleEventText(std::string_view name, uint64_t version, std::string_view root_hash);
Sha256Digest BundleEventDigest(std::string_view name, uint64_t version, std::string_view root_hash);

struct PcrStep {
  std::string what;  // ".linux name", ".linux data (123 bytes)", "initos-bundle event"
  Sha256Digest digest;
  Sha256Digest pcr_after;
};

// A PCR replayed from zero, one extend at a time.
struct PcrReplay {
  Sha256Digest value{};
  std::vector<PcrStep> steps;
  void Extend(std::string what, const Sha256Digest& digest);
};

// The stub's extends for the UKI file `uki` (its bytes), from zero. An
// error when the file is not a PE or has a measured section twice.
Result<PcrReplay> ReplayStubMeasurements(std::string_view uki);

}  // namespace format
}  // namespace initos
