#include "format/pe.h"

#include <algorithm>

namespace initos {
inline namespace format {
namespace {

uint32_t Le(std::string_view b, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

constexpr size_t kCoffHeaderSize = 20;
constexpr size_t kSectionHeaderSize = 40;
constexpr uint32_t kMaxSections = 96;  // the PE loader's limit
constexpr uint32_t kPe32PlusMagic = 0x20b;
constexpr uint32_t kPe32PlusMinOptional = 68;  // through CheckSum

}  // namespace

Result<PeFile> ParsePe(std::string_view file) {
  if (file.size() < 0x40 || file.substr(0, 2) != "MZ")
    return Err() << "not a PE file: no MZ header";
  uint32_t pe = Le(file, 0x3C, 4);
  if (pe > file.size() || file.size() - pe < 4 + kCoffHeaderSize ||
      file.substr(pe, 4) != std::string_view("PE\0\0", 4))
    return Err() << "not a PE file: no PE signature at e_lfanew " << pe;
  size_t coff = pe + 4;
  uint32_t count = Le(file, coff + 2, 2);
  uint32_t optional_size = Le(file, coff + 16, 2);
  if (count > kMaxSections)
    return Err() << "PE file has " << count << " sections, over " << kMaxSections;
  PeFile f;
  f.timestamp_offset = coff + 4;
  f.timestamp = Le(file, f.timestamp_offset, 4);
  size_t opt = coff + kCoffHeaderSize;
  if (optional_size > file.size() - opt) return Err() << "truncated PE optional header";
  if (optional_size >= kPe32PlusMinOptional && Le(file, opt, 2) == kPe32PlusMagic) {
    f.pe32plus = true;
    f.image_base = static_cast<uint64_t>(Le(file, opt + 24, 4)) |
                   static_cast<uint64_t>(Le(file, opt + 28, 4)) << 32;
    f.section_alignment = Le(file, opt + 32, 4);
    f.file_alignment = Le(file, opt + 36, 4);
    f.size_of_image = Le(file, opt + 56, 4);
    f.checksum_offset = opt + 64;
  }
  size_t table = opt + optional_size;
  if (table > file.size() || (file.size() - table) / kSectionHeaderSize < count)
    return Err() << "PE section table (" << count << " entries) runs past the end of the file";
  for (uint32_t i = 0; i < count; ++i) {
    size_t at = table + i * kSectionHeaderSize;
    PeSection s;
    std::string_view name = file.substr(at, 8);
    s.name = std::string(name.substr(0, name.find('\0')));
    s.virtual_size = Le(file, at + 8, 4);
    s.virtual_address = Le(file, at + 12, 4);
    s.raw_size = Le(file, at + 16, 4);
    s.raw_offset = Le(file, at + 20, 4);
    if (static_cast<uint64_t>(s.raw_offset) + s.raw_size > file.size())
      return Err() << "PE section " << s.name << " raw data (" << s.raw_size << " bytes at "
                   << s.raw_offset << ") beyond the end of the file (" << file.size() << " bytes)";
    uint64_t end = static_cast<uint64_t>(s.virtual_address) + s.virtual_size;
    if (end > UINT32_MAX) return Err() << "PE section " << s.name << " ends past 4 GiB";
    f.sections_end = std::max(f.sections_end, static_cast<uint32_t>(end));
    f.sections.push_back(std::move(s));
  }
  return f;
}

Result<std::vector<PeSection>> ParsePeSections(std::string_view file) {
  auto f = ParsePe(file);
  if (!f.ok()) return f.error();
  return std::move(f->sections);
}

Result<std::string> PeSectionMemory(std::string_view file, const PeSection& section) {
  if (static_cast<uint64_t>(section.raw_offset) + section.raw_size > file.size())
    return Err() << "PE section " << section.name << " beyond the end of the file";
  std::string out(
      file.substr(section.raw_offset, std::min(section.raw_size, section.virtual_size)));
  out.resize(section.virtual_size, '\0');
  return out;
}

}  // namespace format
}  // namespace initos
