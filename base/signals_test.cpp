#include "base/signals.h"

#include <gtest/gtest.h>

#include <csignal>

namespace initos {
namespace {

TEST(SignalsTest, NamesInAnyCase) {
  EXPECT_EQ(SignalFromName("SIGTERM"), SIGTERM);
  EXPECT_EQ(SignalFromName("term"), SIGTERM);
  EXPECT_EQ(SignalFromName("SigPwr"), SIGPWR);
  EXPECT_EQ(SignalFromName("15"), std::nullopt);
  EXPECT_EQ(SignalFromName("SIG"), std::nullopt);
  EXPECT_EQ(SignalFromName(""), std::nullopt);
  EXPECT_EQ(SignalName(SIGUSR2), "SIGUSR2");
  EXPECT_EQ(SignalName(1000), "signal 1000");
  EXPECT_EQ(SignalName(SIGRTMIN + 4), "SIGRTMIN+4");
}

// tini's -p takes upper-case names only.
TEST(SignalsTest, ExactCaseForTini) {
  EXPECT_EQ(SignalFromName("SIGKILL", SignalNameCase::kExact), SIGKILL);
  EXPECT_EQ(SignalFromName("KILL", SignalNameCase::kExact), SIGKILL);
  EXPECT_EQ(SignalFromName("kill", SignalNameCase::kExact), std::nullopt);
  EXPECT_EQ(SignalFromName("SigKill", SignalNameCase::kExact), std::nullopt);
}

// Every name maps back to itself.
TEST(SignalsTest, RoundTrip) {
  for (int signo = 1; signo < 32; ++signo) {
    std::string name = SignalName(signo);
    if (name.starts_with("signal ")) continue;
    EXPECT_EQ(SignalFromName(name), signo) << name;
  }
}

}  // namespace
}  // namespace initos
