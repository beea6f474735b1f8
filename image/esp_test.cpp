// The ESP image: planned paths and sizes (pure), and the image itself built
// with this host's mkfs.fat and mtools, read back with mtools.
#include "image/esp.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

using testutil::RunProgram;

TEST(EspPlan, SingleUkiGoesToTheRemovableMediaPath) {
  auto p = PlanEsp({"a.efi", 40 << 20, "", 0, 0});
  ASSERT_TRUE(p.ok()) << p.error().str();
  ASSERT_EQ(p->files.size(), 1u);
  EXPECT_EQ(p->files[0].source, "a.efi");
  EXPECT_EQ(p->files[0].dest, "/EFI/BOOT/BOOTX64.EFI");
  EXPECT_EQ(p->dirs, (std::vector<std::string>{"/EFI", "/EFI/BOOT"}));
  EXPECT_EQ(p->size_mib, 40u + 10 + 8);  // the files, a quarter and 8 MiB of slack
}

TEST(EspPlan, ABHasBothSlotsAndTheDefault) {
  auto p = PlanEsp({"a.efi", 40 << 20, "b.efi", 40 << 20, 0});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->files.size(), 3u);
  EXPECT_EQ(p->files[1].dest, "/EFI/initos/a.efi");
  EXPECT_EQ(p->files[1].source, "a.efi");
  EXPECT_EQ(p->files[2].dest, "/EFI/initos/b.efi");
  EXPECT_EQ(p->files[2].source, "b.efi");
  EXPECT_EQ(p->dirs.back(), "/EFI/initos");
  EXPECT_EQ(p->size_mib, 120u + 30 + 8);
}

TEST(EspPlan, SizeLimits) {
  EXPECT_EQ(PlanEsp({"a.efi", 1000, "", 0, 0})->size_mib, kEspMinSizeMib);
  EXPECT_EQ(PlanEsp({"a.efi", 1000, "", 0, 100})->size_mib, 100u);
  EXPECT_FALSE(PlanEsp({"a.efi", 1000, "", 0, 16}).ok());
  auto small = PlanEsp({"a.efi", 40 << 20, "b.efi", 40 << 20, 64});
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().str().find("give at least"), std::string::npos);
  EXPECT_FALSE(PlanEsp({"", 0, "", 0, 0}).ok());
}

class EspImage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteStringToFile(dir_ / "a.efi", std::string(300000, 'A')).ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "b.efi", std::string(200000, 'B')).ok());
  }
  std::string Extract(const std::string& image, const std::string& path) {
    auto r = RunProgram({"mtype", "-i", image, "::" + path}, "", "", {"MTOOLS_SKIP_CHECK=1"});
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }
  testutil::TempDir dir_;
};

TEST_F(EspImage, ABImageHoldsTheUkisAndIsReproducible) {
  EspOptions o{dir_ / "esp.img", dir_ / "a.efi", dir_ / "b.efi", 0, 1700000000};
  auto r = BuildEsp(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Extract(o.output, "/EFI/BOOT/BOOTX64.EFI"), std::string(300000, 'A'));
  EXPECT_EQ(Extract(o.output, "/EFI/initos/a.efi"), std::string(300000, 'A'));
  EXPECT_EQ(Extract(o.output, "/EFI/initos/b.efi"), std::string(200000, 'B'));
  auto dir = RunProgram({"mdir", "-i", o.output, "::/EFI/BOOT"}, "", "", {"MTOOLS_SKIP_CHECK=1"});
  EXPECT_NE(dir.out.find("2023-11-14"), std::string::npos) << dir.out;  // SOURCE_DATE_EPOCH
  auto first = ReadFileToString(o.output);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), kEspMinSizeMib << 20);
  ::sleep(1);  // mkfs.fat and mtools would otherwise stamp this second
  o.output = dir_ / "esp2.img";
  ASSERT_TRUE(BuildEsp(o).ok());
  EXPECT_EQ(*ReadFileToString(o.output), *first);
  EXPECT_NE(::access((dir_ / "esp.img.tmp").c_str(), F_OK), 0);
}

TEST_F(EspImage, FailuresNameTheFix) {
  auto missing = BuildEsp({dir_ / "esp.img", dir_ / "none.efi", "", 0, kEspDefaultTime});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().str().find("initos image uki"), std::string::npos);
  auto bad_dir = BuildEsp({dir_ / "no/such/dir/esp.img", dir_ / "a.efi", "", 0, 0});
  EXPECT_FALSE(bad_dir.ok());
}

}  // namespace
}  // namespace initos
