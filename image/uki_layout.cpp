#include "image/uki_layout.h"

#include <algorithm>

namespace initos {
inline namespace image {
namespace {

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
  auto f = ParsePe(b);
  if (!f.ok()) return f.error();
  if (!f->pe32plus) return Err() << "not a PE32+ (64-bit) image";
  PeHeaders h;
  h.image_base = f->image_base;
  h.section_alignment = f->section_alignment;
  h.file_alignment = f->file_alignment;
  h.size_of_image = f->size_of_image;
  h.sections_end = f->sections_end;
  h.timestamp = f->timestamp;
  h.timestamp_offset = f->timestamp_offset;
  h.checksum_offset = f->checksum_offset;
  for (const PeSection& s : f->sections) h.section_names.push_back(s.name);
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
