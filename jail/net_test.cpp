#include "jail/net.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(JailNet, DefaultVethNameFitsIfnamsiz) {
  EXPECT_EQ(DefaultVethName("web"), "ve-web");
  EXPECT_EQ(DefaultVethName("a-very-long-jail-name"), "ve-a-very-long-");
  EXPECT_EQ(DefaultVethName("a-very-long-jail-name").size(), 15u);
}

TEST(JailNet, NoneAndLoopbackNeedNothingOnTheHost) {
  JailNetwork net;
  net.kind = JailNetworkKind::kNone;
  EXPECT_TRUE(SetUpHostNetwork("j", net, 1).ok());
  EXPECT_TRUE(SetUpJailNetwork("j", net).ok());  // not even loopback: nothing to do
  net.kind = JailNetworkKind::kLoopback;
  EXPECT_TRUE(SetUpHostNetwork("j", net, 1).ok());
}

}  // namespace
}  // namespace initos
