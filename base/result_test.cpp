#include "base/result.h"

#include <gtest/gtest.h>

#include "base/file.h"

namespace initos {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Err() << "odd value " << v;
  return v / 2;
}

Result<void> OpenMissing() {
  errno = ENOENT;
  return ErrnoError() << "open /nonexistent";
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = Half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 0);
  EXPECT_EQ(bad.error().str(), "odd value 3");
}

TEST(ResultTest, ErrnoErrorKeepsCodeAndContext) {
  auto r = OpenMissing();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_EQ(r.error().str(), std::string("open /nonexistent: ") + strerror(ENOENT));
}

TEST(FileTest, ReadMissingFileNamesPath) {
  auto r = ReadFileToString("/nonexistent/initos-file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_NE(r.error().str().find("/nonexistent/initos-file"), std::string::npos);
}

}  // namespace
}  // namespace initos
