#include "format/bzimage.h"

#include <gtest/gtest.h>

#include "base/file.h"

namespace initos {
namespace {

TEST(BzImageTest, ReadsTheReleaseOfTheTestKernel) {
  auto bz = ReadFileToString("/boot/vmlinuz-6.1.0-57-cloud-amd64");
  ASSERT_TRUE(bz.ok()) << bz.error().str();
  auto v = BzImageKernelRelease(std::string_view(*bz).substr(0, kBzImageHeadBytes));
  ASSERT_TRUE(v.ok()) << v.error().str();
  EXPECT_EQ(*v, "6.1.0-57-cloud-amd64");
}

TEST(BzImageTest, RefusesWhatIsNotABzImage) {
  EXPECT_FALSE(BzImageKernelRelease("").ok());
  EXPECT_FALSE(BzImageKernelRelease(std::string(4096, '\0')).ok());
  std::string h(0x300, '\0');
  h.replace(0x202, 4, "HdrS");
  h[0x20e] = 0x10;
  h[0x20f] = 0x01;  // points past the end
  EXPECT_FALSE(BzImageKernelRelease(h).ok());
}

}  // namespace
}  // namespace initos
