#include "boot/rootfs/measured_boot.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

const BootedRecord kImage{"debian", 3, std::string(64, 'a')};

TEST(MeasuredBoot, NoTpmIsRecordedNotFatal) {
  testutil::TempDir dev;
  MeasuredBoot m = MeasureBootedBundle(kImage, dev.path());
  EXPECT_EQ(m.state, "no-tpm");
  BootStatus st;
  st.measured_event = "x";
  RecordMeasurement(m, st);
  EXPECT_EQ(st.measured, "no-tpm");
  EXPECT_EQ(st.measured_event, "");
}

// A "TPM" that answers nothing (a regular file reads back empty): the boot
// goes on, recorded as failed.
TEST(MeasuredBoot, ABrokenTpmFailsOpen) {
  testutil::TempDir dev;
  ASSERT_TRUE(WriteStringToFile(dev / "tpmrm0", "").ok());
  MeasuredBoot m = MeasureBootedBundle(kImage, dev.path());
  EXPECT_EQ(m.state, "failed");
  EXPECT_EQ(m.event, "");
  BootStatus st;
  st.initos_version = "1";
  RecordMeasurement(m, st);
  EXPECT_EQ(st.measured, "failed");
  EXPECT_TRUE(ParseBootStatus(SerializeBootStatus(st)).ok());
}

}  // namespace
}  // namespace initos
