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

// The section table, in file order. Errors name what is wrong ("not a PE
// file: no MZ", "section .linux raw data beyond the end of the file").
Result<std::vector<PeSection>> ParsePeSections(std::string_view file);

// What the loader puts in memory for the section, VirtualSize bytes: the
// raw data, zero-filled past SizeOfRawData (a loader zero-fills the rest).
Result<std::string> PeSectionMemory(std::string_view file, const PeSection& section);

}  // namespace format
}  // namespace initos
