// A FAT EFI system partition image built without mounting anything:
// dosfstools' mkfs.fat and mtools' mmd/mcopy write straight into the file.
// The UKI goes to the removable-media path EFI/BOOT/BOOTX64.EFI, which
// firmware boots with no boot entry; for A/B both UKIs also go to
// EFI/initos/a.efi and b.efi, for firmware boot entries (efibootmgr, see
// docs/secure-boot.md, "ESP and A/B boot entries").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace image {

inline constexpr char kEspRemovablePath[] = "/EFI/BOOT/BOOTX64.EFI";
// FAT32 (what the UEFI spec asks of an ESP) needs at least 65525 clusters:
// 33 MiB with 512-byte clusters; a little more for the FATs.
inline constexpr uint64_t kEspMinSizeMib = 34;
// FAT timestamps without SOURCE_DATE_EPOCH: 1980-01-01, the FAT epoch.
inline constexpr uint64_t kEspDefaultTime = 315532800;

struct EspFile {
  std::string source;  // host file
  std::string dest;    // "/EFI/BOOT/BOOTX64.EFI"
};

struct EspPlan {
  uint64_t size_mib = 0;
  std::vector<std::string> dirs;  // parents first
  std::vector<EspFile> files;
};

struct EspInputs {
  std::string uki_a;
  uint64_t uki_a_size = 0;
  std::string uki_b;  // "" without A/B
  uint64_t uki_b_size = 0;
  uint64_t size_mib = 0;  // 0: computed from the files
};

// Pure: where each file goes and how big the image is (given, or the files
// plus a quarter and 8 MiB of slack, at least kEspMinSizeMib). Errors: a
// given size below the minimum or below what the files need.
Result<EspPlan> PlanEsp(const EspInputs& inputs);

struct EspOptions {
  std::string output;
  std::string uki_a;
  std::string uki_b;
  uint64_t size_mib = 0;
  uint64_t timestamp = kEspDefaultTime;  // every FAT date (SOURCE_DATE_EPOCH)
};

// Builds the image at output.tmp and renames it over output. Same inputs,
// same bytes (fixed volume id, label and timestamps).
Result<void> BuildEsp(const EspOptions& options);

}  // namespace image
}  // namespace initos
