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

// Real-time signals by offset from SIGRTMIN/SIGRTMAX, never past either end.
TEST(SignalsTest, RealtimeSignals) {
  EXPECT_EQ(SignalFromName("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(SignalFromName("rtmin+3"), SIGRTMIN + 3);
  EXPECT_EQ(SignalFromName("SIGRTMIN"), SIGRTMIN);
  EXPECT_EQ(SignalFromName("SIGRTMAX"), SIGRTMAX);
  EXPECT_EQ(SignalFromName("SIGRTMAX-2"), SIGRTMAX - 2);
  EXPECT_EQ(SignalFromName("SIGRTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN)), SIGRTMAX);
  EXPECT_EQ(SignalFromName("SIGRTMIN+3", SignalNameCase::kExact), SIGRTMIN + 3);
  EXPECT_EQ(SignalFromName("sigrtmin+3", SignalNameCase::kExact), std::nullopt);
  for (const std::string& bad :
       {std::string("SIGRTMIN+"), std::string("SIGRTMIN-1"), std::string("SIGRTMAX+1"),
        std::string("SIGRTMIN+x"), std::string("SIGRTMIN+1000"), std::string("SIGRTMINE"),
        "SIGRTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN + 1)})
    EXPECT_EQ(SignalFromName(bad), std::nullopt) << bad;
}

// Every name maps back to itself.
TEST(SignalsTest, RoundTrip) {
  for (int signo = 1; signo <= SIGRTMAX; ++signo) {
    std::string name = SignalName(signo);
    if (name.starts_with("signal ")) continue;
    EXPECT_EQ(SignalFromName(name), signo) << name;
  }
}

}  // namespace
}  // namespace initos
