// Builds small PE files for tests: an MS-DOS header whose e_lfanew points
// at 0x40, "PE\0\0", a COFF header with no optional header, the section
// table, then each section's raw data padded to 16 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace initos {
namespace testing_pe {

struct Section {
  std::string name;
  std::string data;
  uint32_t virtual_size;
};

inline void PutLe(std::string& out, size_t at, uint32_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

inline std::string Build(const std::vector<Section>& sections) {
  const size_t table = 0x40 + 4 + 20;
  size_t data_at = table + 40 * sections.size();
  data_at = (data_at + 15) / 16 * 16;
  std::string out(data_at, '\0');
  out[0] = 'M';
  out[1] = 'Z';
  PutLe(out, 0x3C, 0x40, 4);
  out.replace(0x40, 4, std::string("PE\0\0", 4));
  PutLe(out, 0x44, 0x8664, 2);  // Machine: x86-64
  PutLe(out, 0x46, static_cast<uint32_t>(sections.size()), 2);
  uint32_t va = 0x1000;
  for (size_t i = 0; i < sections.size(); ++i) {
    const Section& s = sections[i];
    size_t h = table + 40 * i;
    out.replace(h, s.name.size(), s.name);
    uint32_t raw = static_cast<uint32_t>((s.data.size() + 15) / 16 * 16);
    PutLe(out, h + 8, s.virtual_size, 4);
    PutLe(out, h + 12, va, 4);
    PutLe(out, h + 16, raw, 4);
    PutLe(out, h + 20, static_cast<uint32_t>(out.size()), 4);
    std::string padded = s.data;
    padded.resize(raw, '\0');
    out += padded;
    va += (s.virtual_size + 0xfff) / 0x1000 * 0x1000 + 0x1000;
  }
  return out;
}

}  // namespace testing_pe
}  // namespace initos
