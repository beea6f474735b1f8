#include "os/elf_libraries.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

// The loader's own answer (ldd) for a program of this host.
std::set<std::string> LddLibraries(const std::string& binary) {
  auto r = testutil::RunProgram({"ldd", binary});
  std::set<std::string> out;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t nl = r.out.find('\n', pos);
    std::string line = r.out.substr(pos, nl - pos);
    pos = nl == std::string::npos ? r.out.size() : nl + 1;
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    out.insert(line.substr(slash, line.find(' ', slash) - slash));
  }
  return out;
}

TEST(ElfLibrariesTest, SameAsTheLoaderFindsForMke2fsAndSsh) {
  for (const char* binary : {"/sbin/mke2fs", "/usr/bin/ssh"}) {
    ASSERT_EQ(::access(binary, X_OK), 0) << binary;
    auto libs = ElfSharedLibraries(binary);
    ASSERT_TRUE(libs.ok()) << libs.error().str();
    std::set<std::string> got(libs->begin(), libs->end());
    EXPECT_EQ(got.size(), libs->size()) << "each library once";
    EXPECT_EQ(got, LddLibraries(binary)) << binary;
    EXPECT_EQ(libs->back(), "/lib64/ld-linux-x86-64.so.2");
  }
}

TEST(ElfLibrariesTest, StaticProgramsNeedNothing) {
  auto libs = ElfSharedLibraries(INITOS_BINARY);
  ASSERT_TRUE(libs.ok()) << libs.error().str();
  EXPECT_TRUE(libs->empty());
  auto bytes = ReadFileToString(INITOS_BINARY);
  ASSERT_TRUE(bytes.ok());
  auto dyn = ParseElfDynamic(*bytes);
  ASSERT_TRUE(dyn.ok());
  EXPECT_EQ(dyn->interpreter, "");
  EXPECT_TRUE(dyn->needed.empty());
}

TEST(ElfLibrariesTest, ParsesNeededAndInterpreter) {
  auto bytes = ReadFileToString("/sbin/mke2fs");
  ASSERT_TRUE(bytes.ok());
  auto dyn = ParseElfDynamic(*bytes);
  ASSERT_TRUE(dyn.ok()) << dyn.error().str();
  EXPECT_EQ(dyn->interpreter, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_NE(std::find(dyn->needed.begin(), dyn->needed.end(), "libext2fs.so.2"), dyn->needed.end());
  EXPECT_NE(std::find(dyn->needed.begin(), dyn->needed.end(), "libc.so.6"), dyn->needed.end());
}

TEST(ElfLibrariesTest, BadInputIsAnErrorNotACrash) {
  EXPECT_FALSE(ParseElfDynamic("").ok());
  EXPECT_FALSE(ParseElfDynamic("#!/bin/sh\n").ok());
  auto bytes = ReadFileToString("/sbin/mke2fs");
  ASSERT_TRUE(bytes.ok());
  // Every truncation of a real program: an error or a result, never a crash.
  for (size_t n : {size_t{20}, size_t{64}, size_t{100}, size_t{600}, bytes->size() / 2})
    (void)ParseElfDynamic(std::string_view(*bytes).substr(0, n));
  // A library found nowhere names itself.
  auto missing = ElfSharedLibraries("/sbin/mke2fs", {"/nonexistent"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().str().find("libext2fs.so.2"), std::string::npos)
      << missing.error().str();
}

}  // namespace
}  // namespace initos
