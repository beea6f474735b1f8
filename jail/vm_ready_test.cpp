#include "jail/vm_ready.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(VmReady, PeerMatchedByCidOnly) {
  std::vector<VmPeer> running = {{"a", 1003}, {"b", 1004}};
  auto m = MatchVmPeer(running, 1004);
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(*m, 1u);
  auto other = MatchVmPeer(running, 1005);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().str().find("CID 1005"), std::string::npos) << other.error().str();
  EXPECT_NE(other.error().str().find("dropped"), std::string::npos);
  // A jail without a guest (cid 0) never matches, not even CID 0.
  EXPECT_FALSE(MatchVmPeer({{"c", 0}}, 0).ok());
  EXPECT_FALSE(MatchVmPeer({}, 1003).ok());
}

TEST(VmReady, LogAndStatusLines) {
  EXPECT_EQ(VmReadyLogLine("web", VmReady{"web", 7}), "jail web ready (version 7)");
  EXPECT_EQ(VmReadyLogLine("web", VmReady{"db", 7}),
            "jail web ready (version 7) (its guest calls itself \"db\")");
  EXPECT_EQ(VmReadyStatusLine(VmReady{"web", 7}), "ready: yes (version 7)");
  EXPECT_EQ(VmReadyStatusLine(std::nullopt).rfind("ready: no", 0), 0u);
}

}  // namespace
}  // namespace initos
