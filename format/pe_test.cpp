#include "format/pe.h"

#include <gtest/gtest.h>

#include "format/testdata/synthetic_pe.h"

namespace initos {
namespace {

TEST(Pe, ReadsTheSectionTable) {
  std::string pe = testing_pe::Build({{".text", "code", 4}, {".linux", "KERNEL", 6}});
  auto s = ParsePeSections(pe);
  ASSERT_TRUE(s.ok()) << s.error().str();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].name, ".text");
  EXPECT_EQ((*s)[1].name, ".linux");
  EXPECT_EQ((*s)[1].virtual_size, 6u);
  EXPECT_EQ((*s)[1].raw_size, 16u);  // padded to the 16-byte "file alignment"
  EXPECT_EQ(pe.substr((*s)[1].raw_offset, 6), "KERNEL");
}

TEST(Pe, EightCharacterNamesHaveNoNul) {
  auto s = ParsePeSections(testing_pe::Build({{".cmdline", "x", 1}}));
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ((*s)[0].name, ".cmdline");
}

TEST(Pe, MemoryIsVirtualSizeZeroFilled) {
  std::string pe = testing_pe::Build({{".a", "abc", 5}, {".b", "abcdef", 2}});
  auto s = ParsePeSections(pe);
  ASSERT_TRUE(s.ok());
  auto a = PeSectionMemory(pe, (*s)[0]);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, std::string("abc\0\0", 5));
  auto b = PeSectionMemory(pe, (*s)[1]);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "ab");
}

TEST(Pe, RejectsDamagedFiles) {
  EXPECT_FALSE(ParsePeSections("").ok());
  EXPECT_FALSE(ParsePeSections(std::string(100, 'x')).ok());
  std::string pe = testing_pe::Build({{".linux", "KERNEL", 6}});
  std::string no_sig = pe;
  no_sig[0x40] = 'X';
  auto r = ParsePeSections(no_sig);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("no PE signature"), std::string::npos);
  // Cut inside the section's raw data.
  r = ParsePeSections(pe.substr(0, pe.size() - 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("beyond the end of the file"), std::string::npos)
      << r.error().str();
  // Cut inside the section table.
  r = ParsePeSections(pe.substr(0, 0x40 + 24 + 20));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("section table"), std::string::npos) << r.error().str();
  // e_lfanew pointing past the end.
  std::string far = pe;
  far[0x3D] = 0x7f;
  EXPECT_FALSE(ParsePeSections(far).ok());
}

}  // namespace
}  // namespace initos
