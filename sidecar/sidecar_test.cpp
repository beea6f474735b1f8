#include "sidecar/sidecar.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace initos {
namespace {

TEST(SidecarBackoff, DoublesUpToMaxAndResetsAfterALongRun) {
  EXPECT_EQ(NextBackoffMs(1000, 1000, 30000, false), 2000);
  EXPECT_EQ(NextBackoffMs(16000, 1000, 30000, false), 30000);
  EXPECT_EQ(NextBackoffMs(30000, 1000, 30000, false), 30000);
  EXPECT_EQ(NextBackoffMs(30000, 1000, 30000, true), 1000);
  EXPECT_EQ(NextBackoffMs(0, 500, 30000, false), 500);
}

TEST(SidecarArgs, RoundTrip) {
  SupervisorOptions o;
  o.sshd = "/x/sshd";
  o.host_key = "/state/k";
  o.log_path = "/tmp/log";
  o.min_backoff_ms = 5;
  o.max_backoff_ms = 50;
  o.stop_timeout_ms = 7;
  auto back = ParseSupervisorArgs(SupervisorArgs(o));
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(back->sshd, "/x/sshd");
  EXPECT_EQ(back->keygen, o.keygen);
  EXPECT_EQ(back->config, o.config);
  EXPECT_EQ(back->host_key, "/state/k");
  EXPECT_EQ(back->log_path, "/tmp/log");
  EXPECT_EQ(back->min_backoff_ms, 5);
  EXPECT_EQ(back->max_backoff_ms, 50);
  EXPECT_EQ(back->stop_timeout_ms, 7);
}

TEST(SidecarArgs, BadInputIsOneClearLine) {
  auto r = ParseSupervisorArgs({"--bogus", "1"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown option '--bogus'"), std::string::npos);
  r = ParseSupervisorArgs({"--sshd"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--sshd needs a value"), std::string::npos);
  r = ParseSupervisorArgs({"--min-backoff-ms", "ten"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'ten'"), std::string::npos);
}

}  // namespace
}  // namespace initos
