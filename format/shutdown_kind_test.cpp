#include "format/shutdown_kind.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(ShutdownKindTest, NamesRoundTrip) {
  for (ShutdownKind k : {ShutdownKind::kPoweroff, ShutdownKind::kReboot, ShutdownKind::kHalt,
                         ShutdownKind::kKexec}) {
    auto parsed = ParseShutdownKind(ShutdownKindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(ShutdownKindName(ShutdownKind::kKexec), "kexec");
}

TEST(ShutdownKindTest, UnknownWordNamesTheChoices) {
  auto r = ParseShutdownKind("--log-level");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("poweroff, reboot, halt or kexec"), std::string::npos);
  EXPECT_FALSE(ParseShutdownKind("").ok());
  EXPECT_FALSE(ParseShutdownKind("Poweroff").ok());
}

}  // namespace
}  // namespace initos
