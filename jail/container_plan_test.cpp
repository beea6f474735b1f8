#include "jail/container_plan.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

namespace initos {
namespace {

TEST(ContainerPlanTest, NamespacesPerKind) {
  JailConfig c;
  c.kind = JailKind::kUnprivileged;
  uint64_t all =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  EXPECT_EQ(ContainerCloneFlags(c), all | CLONE_NEWUSER);
  c.kind = JailKind::kPrivileged;
  EXPECT_EQ(ContainerCloneFlags(c), all);
  c.network.kind = JailNetworkKind::kNone;  // still its own (empty) netns
  EXPECT_TRUE(ContainerCloneFlags(c) & CLONE_NEWNET);
}

TEST(ContainerPlanTest, EnvironmentHasTheContainerInterfaceAndAPath) {
  JailConfig c;
  c.env = {{"LANG", "C.UTF-8"}, {"container", "docker"}};
  auto env = ContainerEnv(c, {"TERM=vt220"});
  std::vector<std::string> want = {"LANG=C.UTF-8", std::string("PATH=") + kDefaultJailPath,
                                   "TERM=vt220", "container=initos"};
  EXPECT_EQ(env, want);
  c.env = {{"PATH", "/bin"}};
  env = ContainerEnv(c, {"PATH=/opt/bin"});
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/opt/bin", "container=initos"}));
}

TEST(ContainerPlanTest, ArgvWithAndWithoutTheReaper) {
  JailConfig c;
  c.helpers = {{"/bin/helper", "-x"}};
  c.command = {"/bin/app", "arg"};
  EXPECT_EQ(ContainerArgv(c), (std::vector<std::string>{"/bin/helper", "-x", "/bin/app", "arg"}));
  c.reaper = true;
  EXPECT_EQ(ContainerArgv(c), (std::vector<std::string>{"initos", "reap", "--", "/bin/helper", "-x",
                                                        "/bin/app", "arg"}));
}

TEST(ContainerPlanTest, RlimitNames) {
  EXPECT_EQ(RlimitResource("nofile"), RLIMIT_NOFILE);
  EXPECT_EQ(RlimitResource("RLIMIT_NPROC"), RLIMIT_NPROC);
  EXPECT_EQ(RlimitResource("Core"), RLIMIT_CORE);
  EXPECT_FALSE(RlimitResource("files").has_value());
}

}  // namespace
}  // namespace initos
