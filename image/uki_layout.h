// Where the UKI's sections go: a pure planner over the systemd-stub's PE
// headers (read from its bytes) and the sizes of what is added. objcopy
// then places each section at the planned virtual address
// (--change-section-vma). Also the two header fields objcopy rewrites
// with the wall-clock time (TimeDateStamp, and CheckSum over it), so a
// UKI can be made byte-identical from the same inputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "format/pe.h"

namespace initos {
inline namespace image {

// What the planner needs from a PE32+ image (an EFI application).
struct PeHeaders {
  uint64_t image_base = 0;
  uint32_t section_alignment = 0;
  uint32_t file_alignment = 0;
  uint32_t size_of_image = 0;
  uint32_t sections_end = 0;    // max(VirtualAddress + VirtualSize) over the sections
  uint32_t timestamp = 0;       // COFF TimeDateStamp
  size_t timestamp_offset = 0;  // file offsets of TimeDateStamp and CheckSum
  size_t checksum_offset = 0;
  std::vector<std::string> section_names;  // in header order
};

// format/pe.h's ParsePe, PE32+ only, in the planner's terms. Bounded:
// every offset is checked against the whole file given.
Result<PeHeaders> ParsePeHeaders(std::string_view bytes);

struct UkiSection {
  std::string name;  // ".osrel", ".cmdline", ".linux", ".initrd"
  uint64_t size = 0;
  uint64_t vma = 0;  // absolute: image_base + RVA, what objcopy's VMAs are
};

struct UkiInputs {
  uint64_t osrel_size = 0;
  uint64_t cmdline_size = 0;
  uint64_t linux_size = 0;
  uint64_t initrd_size = 0;
};

// Every added section starts on a page boundary at least: a multiple of the
// stub's SectionAlignment (as the PE format requires) and of 4 KiB (so the
// firmware can map each section with its own page protections).
inline constexpr uint32_t kUkiMinAlignment = 4096;

// The sections in file order .osrel, .cmdline, .linux, .initrd (systemd's
// UKI docs and ukify), placed one after the other past the stub's last
// section and SizeOfImage. Errors: a stub already holding one of these
// sections (a UKI, not a stub), a bad alignment, an image over 4 GiB, an
// empty kernel or initramfs.
Result<std::vector<UkiSection>> PlanUkiSections(const PeHeaders& stub, const UkiInputs& inputs);

// The PE checksum (as in IMAGHELP's CheckSumMappedFile): 16-bit one's
// complement style sum of the file with the CheckSum field counted as zero,
// plus the file length.
uint32_t PeChecksum(std::string_view bytes, size_t checksum_offset);

// Sets TimeDateStamp and recomputes CheckSum in a PE image held in memory.
Result<void> SetPeTimestamp(std::string& bytes, uint32_t timestamp);

}  // namespace image
}  // namespace initos
