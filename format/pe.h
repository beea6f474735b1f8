// A minimal PE/COFF reader for unified kernel images: just the section
// table (Microsoft PE format, "MS-DOS stub", "COFF File Header", "Section
// Table"). Pure and bounds-checked: the file is untrusted input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

struct PeSection {
  std::string name;  // up to 8 bytes, the NUL padding cut off
  uint32_t virtual_size = 0;
  uint32_t virtual_address = 0;
  uint32_t raw_size = 0;    // SizeOfRawData
  uint32_t raw_offset = 0;  // PointerToRawData
};

// The headers both the UKI builder (image/uki_layout.h) and the PCR
// replay (format/measurement.h) read: one parser for both.
struct PeFile {
  std::vector<PeSection> sections;  // in file order
  uint32_t timestamp = 0;           // COFF TimeDateStamp
  size_t timestamp_offset = 0;      // file offset of TimeDateStamp
  // From the PE32+ optional header; pe32plus is false (and these 0) when
  // the file has none or another kind.
  bool pe32plus = false;
  uint64_t image_base = 0;
  uint32_t section_alignment = 0;
  uint32_t file_alignment = 0;
  uint32_t size_of_image = 0;
  size_t checksum_offset = 0;  // file offset of CheckSum
  uint32_t sections_end = 0;   // max(VirtualAddress + VirtualSize) over the sections
};

// Errors name what is wrong ("not a PE file: no MZ header", "PE section
// .linux raw data ... beyond the end of the file").
Result<PeFile> ParsePe(std::string_view file);

// ParsePe's section table.
Result<std::vector<PeSection>> ParsePeSections(std::string_view file);

// What the loader puts in memory for the section, VirtualSize bytes: the
// raw data, zero-filled past SizeOfRawData (a loader zero-fills the rest).
Result<std::string> PeSectionMemory(std::string_view file, const PeSection& section);

}  // namespace format
}  // namespace initos
