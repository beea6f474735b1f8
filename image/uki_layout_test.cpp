// The UKI section planner and PE header edits, on a synthetic PE header and
// on Debian's systemd-stub (systemd-boot-efi, installed by scripts/setup.sh).
#include "image/uki_layout.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "image/uki.h"

namespace initos {
namespace {

void Put16(std::string& b, size_t at, uint16_t v) {
  b[at] = static_cast<char>(v);
  b[at + 1] = static_cast<char>(v >> 8);
}
void Put32(std::string& b, size_t at, uint32_t v) {
  Put16(b, at, static_cast<uint16_t>(v));
  Put16(b, at + 2, static_cast<uint16_t>(v >> 16));
}

struct FakeSection {
  std::string name;
  uint32_t va, vsize;
};

// A minimal PE32+ header: DOS header, "PE\0\0" at 0x80, COFF header, a
// 240-byte optional header, the section table.
std::string FakePe(uint64_t image_base, uint32_t section_alignment, uint32_t size_of_image,
                   const std::vector<FakeSection>& sections) {
  std::string b(0x400, '\0');
  b[0] = 'M';
  b[1] = 'Z';
  Put32(b, 0x3c, 0x80);
  b.replace(0x80, 4, std::string("PE\0\0", 4));
  const size_t coff = 0x84, opt = coff + 20;
  Put16(b, coff, 0x8664);
  Put16(b, coff + 2, static_cast<uint16_t>(sections.size()));
  Put32(b, coff + 4, 0x12345678);
  Put16(b, coff + 16, 240);
  Put16(b, opt, 0x20b);
  Put32(b, opt + 24, static_cast<uint32_t>(image_base));
  Put32(b, opt + 28, static_cast<uint32_t>(image_base >> 32));
  Put32(b, opt + 32, section_alignment);
  Put32(b, opt + 36, 0x200);
  Put32(b, opt + 56, size_of_image);
  for (size_t i = 0; i < sections.size(); i++) {
    const size_t s = opt + 240 + 40 * i;
    b.replace(s, sections[i].name.size(), sections[i].name);
    Put32(b, s + 8, sections[i].vsize);
    Put32(b, s + 12, sections[i].va);
  }
  return b;
}

TEST(UkiLayout, ParsesSyntheticHeader) {
  auto h = ParsePeHeaders(
      FakePe(0x10000000, 0x200, 0x19300, {{".text", 0x4000, 0xbff0}, {".sdmagic", 0x19100, 0x34}}));
  ASSERT_TRUE(h.ok()) << h.error().str();
  EXPECT_EQ(h->image_base, 0x10000000u);
  EXPECT_EQ(h->section_alignment, 0x200u);
  EXPECT_EQ(h->size_of_image, 0x19300u);
  EXPECT_EQ(h->sections_end, 0x19134u);
  EXPECT_EQ(h->timestamp, 0x12345678u);
  EXPECT_EQ(h->timestamp_offset, 0x88u);
  EXPECT_EQ(h->checksum_offset, 0x98u + 64);
  EXPECT_EQ(h->section_names, (std::vector<std::string>{".text", ".sdmagic"}));
}

TEST(UkiLayout, PlacesSectionsInOrderPageAlignedAfterTheStub) {
  auto h = ParsePeHeaders(FakePe(0x10000000, 0x200, 0x19300, {{".text", 0x4000, 0xbff0}}));
  ASSERT_TRUE(h.ok());
  auto plan = PlanUkiSections(*h, {0x44, 0x16, 0x5000, 0x1001});
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  ASSERT_EQ(plan->size(), 4u);
  const std::vector<std::pair<std::string, uint64_t>> want = {{".osrel", 0x1001a000},
                                                              {".cmdline", 0x1001b000},
                                                              {".linux", 0x1001c000},
                                                              {".initrd", 0x10021000}};
  for (size_t i = 0; i < 4; i++) {
    EXPECT_EQ((*plan)[i].name, want[i].first);
    EXPECT_EQ((*plan)[i].vma, want[i].second) << want[i].first;
  }
  EXPECT_EQ((*plan)[3].size, 0x1001u);
}

TEST(UkiLayout, LargerStubAlignmentAndSectionsPastSizeOfImageAreHonoured) {
  // A section ending past SizeOfImage (a sloppy linker) still is not overlapped.
  auto h = ParsePeHeaders(FakePe(0, 0x10000, 0x20000, {{".data", 0x20000, 0x10}}));
  ASSERT_TRUE(h.ok());
  auto plan = PlanUkiSections(*h, {1, 1, 1, 1});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)[0].vma, 0x30000u);
  EXPECT_EQ((*plan)[1].vma, 0x40000u);
  EXPECT_EQ((*plan)[3].vma, 0x60000u);
}

TEST(UkiLayout, RefusesBadStubsAndEmptyInputs) {
  auto uki = ParsePeHeaders(FakePe(0, 0x200, 0x19300, {{".linux", 0x4000, 0x100}}));
  ASSERT_TRUE(uki.ok());
  auto r = PlanUkiSections(*uki, {1, 1, 1, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("already has a .linux"), std::string::npos) << r.error().str();

  auto odd = ParsePeHeaders(FakePe(0, 0x300, 0x19300, {}));
  ASSERT_TRUE(odd.ok());
  EXPECT_FALSE(PlanUkiSections(*odd, {1, 1, 1, 1}).ok());

  auto stub = ParsePeHeaders(FakePe(0, 0x200, 0x19300, {}));
  ASSERT_TRUE(stub.ok());
  auto empty = PlanUkiSections(*stub, {1, 0, 1, 1});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().str().find("empty .cmdline"), std::string::npos);
  EXPECT_FALSE(PlanUkiSections(*stub, {1, 1, 1, 0xFFFFFFFFull}).ok());
}

TEST(UkiLayout, RefusesWhatIsNotAPe32Plus) {
  EXPECT_FALSE(ParsePeHeaders("").ok());
  EXPECT_FALSE(ParsePeHeaders(std::string(0x400, 'x')).ok());
  std::string pe = FakePe(0, 0x200, 0x1000, {{".text", 0x1000, 0x10}});
  EXPECT_FALSE(ParsePeHeaders(pe.substr(0, 0x100)).ok());  // cut in the optional header
  EXPECT_FALSE(ParsePeHeaders(pe.substr(0, 0x190)).ok());  // cut in the section table
  std::string pe32 = pe;
  Put16(pe32, 0x98, 0x10b);
  EXPECT_FALSE(ParsePeHeaders(pe32).ok());
  std::string far = pe;
  Put32(far, 0x3c, 0xfffffff0);
  EXPECT_FALSE(ParsePeHeaders(far).ok());
}

TEST(UkiLayout, SetPeTimestampRewritesTimeAndChecksum) {
  std::string pe = FakePe(0, 0x200, 0x1000, {{".text", 0x1000, 0x10}});
  ASSERT_TRUE(SetPeTimestamp(pe, 1700000000).ok());
  auto h = ParsePeHeaders(pe);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->timestamp, 1700000000u);
  const uint32_t stored = static_cast<uint8_t>(pe[h->checksum_offset]) |
                          static_cast<uint8_t>(pe[h->checksum_offset + 1]) << 8 |
                          static_cast<uint8_t>(pe[h->checksum_offset + 2]) << 16 |
                          static_cast<uint32_t>(static_cast<uint8_t>(pe[h->checksum_offset + 3]))
                              << 24;
  EXPECT_EQ(stored, PeChecksum(pe, h->checksum_offset));
  EXPECT_NE(stored, 0u);
}

TEST(UkiLayout, RealSystemdStub) {
  auto stub = ReadFileToString(kDefaultUkiStub);
  ASSERT_TRUE(stub.ok()) << kDefaultUkiStub << ": install systemd-boot-efi (scripts/setup.sh)";
  auto h = ParsePeHeaders(*stub);
  ASSERT_TRUE(h.ok()) << h.error().str();
  // Our checksum is the linker's: the stub's stored CheckSum matches.
  const size_t c = h->checksum_offset;
  const uint32_t stored = static_cast<uint8_t>((*stub)[c]) |
                          static_cast<uint8_t>((*stub)[c + 1]) << 8 |
                          static_cast<uint8_t>((*stub)[c + 2]) << 16 |
                          static_cast<uint32_t>(static_cast<uint8_t>((*stub)[c + 3])) << 24;
  EXPECT_EQ(stored, PeChecksum(*stub, c));
  EXPECT_GE(h->size_of_image, h->sections_end);
  auto plan = PlanUkiSections(*h, {100, 20, 10 << 20, 5 << 20});
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  EXPECT_GE((*plan)[0].vma, h->image_base + h->size_of_image);
  for (size_t i = 1; i < plan->size(); i++) {
    EXPECT_GE((*plan)[i].vma, (*plan)[i - 1].vma + (*plan)[i - 1].size);
    EXPECT_EQ((*plan)[i].vma % h->section_alignment, 0u);
    EXPECT_EQ((*plan)[i].vma % 4096, 0u);
  }
}

}  // namespace
}  // namespace initos
