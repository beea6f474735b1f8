#include "jail/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace initos {
namespace {

TEST(Capabilities, NamesInAnyCaseWithOrWithoutPrefix) {
  EXPECT_EQ(*CapabilityFromName("NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(*CapabilityFromName("CAP_NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(*CapabilityFromName("cap_net_bind_service"), CAP_NET_BIND_SERVICE);
  EXPECT_EQ(*CapabilityFromName("Dac_Override"), CAP_DAC_OVERRIDE);
  EXPECT_EQ(*CapabilityFromName("chown"), CAP_CHOWN);
  EXPECT_EQ(*CapabilityFromName("SYS_ADMIN"), CAP_SYS_ADMIN);
}

TEST(Capabilities, UnknownNamesAreErrors) {
  for (const char* bad : {"NET_ADMINN", "", "CAP_", "12", "CAP_12", "all"}) {
    auto r = CapabilityFromName(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().str().find(std::string("\"") + bad + "\""), std::string::npos)
        << r.error().str();
    EXPECT_NE(r.error().str().find("man 7 capabilities"), std::string::npos);
  }
}

TEST(Capabilities, ListDeduplicatedAndFailsOnFirstBad) {
  auto r = CapabilitiesFromNames({"NET_RAW", "CAP_NET_RAW", "chown"});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<int>{CAP_NET_RAW, CAP_CHOWN}));
  auto bad = CapabilitiesFromNames({"chown", "FLY"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("FLY"), std::string::npos);
  EXPECT_TRUE(CapabilitiesFromNames({})->empty());
}

}  // namespace
}  // namespace initos
