#include "image/uki_layout.h"

#include <algorithm>

namespace initos {
inline namespace image {
namespace {

constexpr size_t kCoffHeaderSize = 20;
constexpr size_t kSectionHeaderSize = 40;
constexpr uint16_t kPe32PlusMagic = 0x20b;

uint16_t Le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8);
}
uint32_t Le32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(Le16(b, at)) | static_cast<uint32_t>(Le16(b, at + 2)) << 16;
}
uint64_t Le64(std::string_view b, size_t at) {
  return static_cast<uint64_t>(Le32(b, at)) | static_cast<uint64_t>(Le32(b, at + 4)) << 32;
}
void PutLe32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) b[at + i] = static_cast<char>(v >> (8 * i));
}

bool PowerOfTwo(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}
uint64_t AlignUp(uint64_t v, uint64_t align) {
  return (v + align - 1) & ~(align - 1);
}

}  // namespace

Result<PeHeaders> ParsePeHeaders(std::string_view b) {
  if (b.size() < 0x40 || b[0] != 'M' || b[1] != 'Z') return Err() << "not a PE image (no MZ)";
  const size_t pe = Le32(b, 0x3c);
  if (pe > b.size() || b.size() - pe < 4 + kCoffHeaderSize ||
      b.substr(pe, 4) != std::string_view("PE\0\0", 4)) {
    return Err() << "not a PE image (no PE signature)";
  }
  const size_t coff = pe + 4;
  const uint16_t nsections = Le16(b, coff + 2);
  const uint16_t opt_size = Le16(b, coff + 16);
  const size_t opt = coff + kCoffHeaderSize;
  if (opt_size < 68 || b.size() - opt < opt_size) return Err() << "truncated PE optional header";
  if (Le16(b, opt) != kPe32PlusMagic) return Err() << "not a PE32+ (64-bit) image";
  PeHeaders h;
  h.timestamp_offset = coff + 4;
  h.timestamp = Le32(b, h.timestamp_offset);
  h.image_base = Le64(b, opt + 24);
  h.section_alignment = Le32(b, opt + 32);
  h.file_alignment = Le32(b, opt + 36);
  h.size_of_image = Le32(b, opt + 56);
  h.checksum_offset = opt + 64;
  const size_t table = opt + opt_size;
  if ((b.size() - table) / kSectionHeaderSize < nsections) {
    return Err() << "truncated PE section table";
  }
  for (size_t i = 0; i < nsections; i++) {
    const size_t s = table + i * kSectionHeaderSize;
    std::string_view name = b.substr(s, 8);
    name = name.substr(0, std::min(name.find('\0'), name.size()));
    h.section_names.emplace_back(name);
    const uint64_t end = static_cast<uint64_t>(Le32(b, s + 12)) + Le32(b, s + 8);
    if (end > UINT32_MAX) return Err() << "PE section " << name << " ends past 4 GiB";
    h.sections_end = std::max(h.sections_end, static_cast<uint32_t>(end));
  }
  return h;
}

Result<std::vector<UkiSection>> PlanUkiSections(const PeHeaders& stub, const UkiInputs& in) {
  if (!PowerOfTwo(stub.section_alignment)) {
    return Err() << "stub SectionAlignment " << stub.section_alignment
                 << " is not a power of two; use a systemd-stub (install systemd-boot-efi)";
  }
  std::vector<UkiSection> plan = {{".osrel", in.osrel_size, 0},
                                  {".cmdline", in.cmdline_size, 0},
                                  {".linux", in.linux_size, 0},
                                  {".initrd", in.initrd_size, 0}};
  for (const auto& s : plan) {
    if (std::find(stub.section_names.begin(), stub.section_names.end(), s.name) !=
        stub.section_names.end()) {
      return Err() << "the stub already has a " << s.name
                   << " section (is it a UKI?); give the plain systemd-stub";
    }
    // An empty .cmdline would let systemd-stub take the boot loader's
    // command line even under Secure Boot.
    if (s.size == 0) return Err() << "empty " << s.name << " section; give a non-empty input";
  }
  const uint64_t align = std::max<uint64_t>(stub.section_alignment, kUkiMinAlignment);
  uint64_t rva = AlignUp(std::max<uint64_t>(stub.size_of_image, stub.sections_end), align);
  for (auto& s : plan) {
    s.vma = stub.image_base + rva;
    rva = AlignUp(rva + s.size, align);
  }
  if (rva > UINT32_MAX) return Err() << "UKI would be over 4 GiB; use a smaller initramfs";
  return plan;
}

uint32_t PeChecksum(std::string_view b, size_t checksum_offset) {
  uint64_t sum = 0;
  for (size_t i = 0; i < b.size(); i += 2) {
    if (i >= checksum_offset && i < checksum_offset + 4) continue;
    uint32_t word = static_cast<uint8_t>(b[i]);
    if (i + 1 < b.size()) word |= static_cast<uint32_t>(static_cast<uint8_t>(b[i + 1])) << 8;
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum + b.size());
}

Result<void> SetPeTimestamp(std::string& bytes, uint32_t timestamp) {
  auto h = ParsePeHeaders(bytes);
  if (!h.ok()) return h.error();
  PutLe32(bytes, h->timestamp_offset, timestamp);
  PutLe32(bytes, h->checksum_offset, PeChecksum(bytes, h->checksum_offset));
  return {};
}

}  // namespace image
}  // namespace initos
