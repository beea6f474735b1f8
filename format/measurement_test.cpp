#include "format/measurement.h"

#include <gtest/gtest.h>

#include "format/testdata/synthetic_pe.h"

namespace initos {
namespace {

constexpr char kHash[] = "00112233445566778899aabbccddeeff";

TEST(Measurement, BundleEventTextIsExact) {
  EXPECT_EQ(BundleEventText("debian", 3, kHash),
            "initos-bundle\nname=debian\nversion=3\nroot-hash=00112233445566778899aabbccddeeff\n");
  EXPECT_EQ(HexOf(BundleEventDigest("debian", 3, kHash)),
            "a6a1e13197cdfe6f55adfc299858c3d1727ecb255fcb0f3f6024372d2177c2e1");
  EXPECT_NE(BundleEventDigest("debian", 4, kHash), BundleEventDigest("debian", 3, kHash));
}

// The values were computed independently (Python hashlib) from the rules in
// measurement.h: name with NUL, then data of VirtualSize bytes, in the
// stub's order (.linux before .cmdline whatever the file order), sections
// the stub does not know (.text) skipped.
TEST(Measurement, ReplaysTheStubInItsOrder) {
  std::string pe = testing_pe::Build({{".text", "stub code", 9},
                                      {".cmdline", "console=ttyS0", 16},
                                      {".linux", "KERNEL", 6},
                                      {".sbat", "sbat,1", 6}});
  auto r = ReplayStubMeasurements(pe);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->steps.size(), 4u);
  EXPECT_EQ(r->steps[0].what, ".linux name");
  EXPECT_EQ(r->steps[1].what, ".linux data (6 bytes)");
  EXPECT_EQ(r->steps[2].what, ".cmdline name");
  EXPECT_EQ(r->steps[3].what, ".cmdline data (16 bytes)");
  EXPECT_EQ(HexOf(r->steps[0].pcr_after),
            "c8a68f22e44d0249e2cd4f1ef0e79f565542404acf7f073da98d9dde907cdc32");
  EXPECT_EQ(HexOf(r->value), "ca36b99349a275d3196cb4ed6b1abd3ae13040b012c1e6fb51f74d0f20b2b9fb");
  r->Extend("initos-bundle event", BundleEventDigest("debian", 3, kHash));
  EXPECT_EQ(HexOf(r->value), "d58ad0641b1995a25d8b72a282aa9742779db5b9d2bac393f9c40121cf41be76");
}

TEST(Measurement, NoUkiSectionsLeavesZero) {
  auto r = ReplayStubMeasurements(testing_pe::Build({{".text", "x", 1}}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->steps.empty());
  EXPECT_EQ(r->value, Sha256Digest{});
}

TEST(Measurement, TwoCopiesOfAMeasuredSectionAreRefused) {
  auto r = ReplayStubMeasurements(testing_pe::Build({{".linux", "A", 1}, {".linux", "B", 1}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("two .linux sections"), std::string::npos);
  EXPECT_FALSE(ReplayStubMeasurements("MZ not a pe").ok());
}

}  // namespace
}  // namespace initos
