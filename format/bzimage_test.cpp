#include "format/bzimage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

// A setup header as the kernel's build writes it: "HdrS", protocol 2.15,
// kernel_version pointing at `version` (offset from 0x200).
std::string Header(const std::string& version, uint16_t offset = 0x1c0, uint16_t protocol = 0x20f) {
  std::string h(0x200 + offset + version.size() + 16, '\0');
  h.replace(0x202, 4, "HdrS");
  h[0x206] = static_cast<char>(protocol & 0xff);
  h[0x207] = static_cast<char>(protocol >> 8);
  h[0x20E] = static_cast<char>(offset & 0xff);
  h[0x20F] = static_cast<char>(offset >> 8);
  h.replace(0x200 + offset, version.size(), version);
  return h;
}

TEST(BzImageTest, ReleaseIsTheVersionStringUpToItsFirstSpace) {
  auto r = BzImageKernelRelease(
      Header("6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC"));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, "6.1.0-57-cloud-amd64");
  EXPECT_EQ(*BzImageKernelRelease(Header("6.6.0-initos")), "6.6.0-initos");
  // The highest offset the field can hold.
  EXPECT_EQ(*BzImageKernelRelease(Header("5.10.0 x", 0xffff)), "5.10.0");
}

TEST(BzImageTest, DamagedOrForeignInputIsRefused) {
  auto err = [](const std::string& head) {
    auto r = BzImageKernelRelease(head);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.error().str();
  };
  EXPECT_NE(err("").find("no \"HdrS\""), std::string::npos);
  EXPECT_NE(err(std::string(4096, '\0')).find("no \"HdrS\""), std::string::npos);
  EXPECT_NE(err(Header("6.1", 0x1c0, 0x1ff)).find("boot protocol 1.255"), std::string::npos);
  std::string no_version = Header("6.1");
  no_version[0x20E] = no_version[0x20F] = '\0';
  EXPECT_NE(err(no_version).find("kernel_version is 0"), std::string::npos);
  std::string cut = Header("6.1.0-57-cloud-amd64");
  cut.resize(0x200 + 0x1c0 + 5);
  EXPECT_NE(err(cut).find("runs past the bytes read"), std::string::npos);
  EXPECT_NE(err(Header("6.1\x01")).find("non-printable"), std::string::npos);
  EXPECT_NE(err(Header(" 6.1")).find("empty version string"), std::string::npos);
  EXPECT_NE(err(Header(std::string(300, 'a'))).find("longer than 256"), std::string::npos);
}

// The host's own Debian kernel, when there is one to read.
TEST(BzImageTest, DebianKernelOfThisHost) {
  const char* path = "/boot/vmlinuz-6.1.0-57-cloud-amd64";
  if (::access(path, R_OK) != 0) {
    // Not every builder runs Debian's cloud kernel; the synthetic headers
    // above cover the parser.
    SUCCEED() << path << " is not readable here";
    return;
  }
  auto r = ReadBzImageKernelRelease(path);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, "6.1.0-57-cloud-amd64");
}

TEST(BzImageTest, ReadsTheReleaseFromAFile) {
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir / "vmlinuz", Header("6.6.1-initos (x) #1")).ok());
  auto r = ReadBzImageKernelRelease(dir / "vmlinuz");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, "6.6.1-initos");
  ASSERT_TRUE(WriteStringToFile(dir / "initrd", std::string(8192, 'x')).ok());
  auto bad = ReadBzImageKernelRelease(dir / "initrd");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find(dir / "initrd"), std::string::npos) << bad.error().str();
  EXPECT_NE(bad.error().str().find("no \"HdrS\""), std::string::npos) << bad.error().str();
  EXPECT_FALSE(ReadBzImageKernelRelease(dir / "missing").ok());
}

}  // namespace
}  // namespace initos
