#include "init/cmdline.h"

#include <gtest/gtest.h>

#include <csignal>

namespace initos {
namespace {

constexpr char kEd25519[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOQdVOMJPUxg/PMeFUd6sZc+SCN3D0a4QphKYP0hwuQW test@initos";

std::string Joined(const std::vector<ConfigProblem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.str() + "\n";
  return s;
}

std::vector<ConfigProblem> Apply(Config& c, std::string_view cmdline) {
  return ApplyKernelCmdline(c, ParseKernelCmdline(cmdline));
}

TEST(CmdlineTest, SplitsOnWhitespaceAndKeyValue) {
  auto p = ParseKernelCmdline("  console=ttyS0\tquiet\n root=LABEL=r a=\n");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].key, "console");
  EXPECT_EQ(p[0].value, "ttyS0");
  EXPECT_TRUE(p[0].has_value);
  EXPECT_EQ(p[1].key, "quiet");
  EXPECT_FALSE(p[1].has_value);
  EXPECT_EQ(p[2].key, "root");
  EXPECT_EQ(p[2].value, "LABEL=r");  // split at the first '=' only
  EXPECT_EQ(p[3].key, "a");
  EXPECT_TRUE(p[3].has_value);
  EXPECT_EQ(p[3].value, "");
  EXPECT_TRUE(ParseKernelCmdline("").empty());
  EXPECT_TRUE(ParseKernelCmdline(" \n ").empty());
}

TEST(CmdlineTest, QuotesGroupAndAreRemoved) {
  auto p = ParseKernelCmdline("a=\"x y  z\" \"b=1 2\" c=\"\" d=pre\"mid dle\"post");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].key, "a");
  EXPECT_EQ(p[0].value, "x y  z");
  EXPECT_EQ(p[1].key, "b");
  EXPECT_EQ(p[1].value, "1 2");
  EXPECT_EQ(p[2].value, "");
  EXPECT_TRUE(p[2].has_value);
  EXPECT_EQ(p[3].value, "premid dlepost");
  // An unterminated quote runs to the end, like the kernel.
  p = ParseKernelCmdline("a=\"x y");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].value, "x y");
}

TEST(CmdlineTest, StopsAtBareDoubleDash) {
  auto p = ParseKernelCmdline("quiet -- initos.init.on-exit=reboot single");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].key, "quiet");
  p = ParseKernelCmdline("a \"--\" b --x");  // quoted or longer: ordinary params
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[1].key, "--");
  EXPECT_EQ(p[3].key, "--x");
}

// Development mode: every key but the signed-only ones, as before verified
// mode existed; this checks how each kind of value is read.
Config DevConfig() {
  Config c;
  c.rootfs.insecure_dev_mode = true;
  return c;
}

TEST(CmdlineTest, OverridesEveryKindOfValue) {
  Config c = DevConfig();
  auto problems = Apply(c,
                        "console=ttyS0 init=/bin/ignored initos.init.mode=jails "
                        "initos.init.on-exit=respawn initos.init.respawn-limit=9 "
                        "initos.state.create=yes initos.sidecar.enable=1 "
                        "initos.init.modules=virtio_blk,virtio_net "
                        "initos.sidecar.listen=127.0.0.1:22,[::1]:22 "
                        "initos.rootfs.image=LABEL=imgs:/os/v2.bundle "
                        "initos.init.env.DEBUG=\"a b\" initos.init.signals.sigterm=poweroff "
                        "\"initos.sidecar.authorized-keys=" +
                            std::string(kEd25519) + "\" initos.rootfs.min-version=0");
  ASSERT_TRUE(problems.empty()) << Joined(problems);
  EXPECT_EQ(c.init.mode, InitMode::kJails);
  EXPECT_EQ(c.init.on_exit, OnExit::kRespawn);
  EXPECT_EQ(c.init.respawn_limit, 9);
  EXPECT_TRUE(c.state.create);
  EXPECT_TRUE(c.sidecar.enable);
  EXPECT_EQ(c.init.modules, (std::vector<std::string>{"virtio_blk", "virtio_net"}));
  EXPECT_EQ(c.sidecar.listen, (std::vector<std::string>{"127.0.0.1:22", "[::1]:22"}));
  EXPECT_EQ(c.rootfs.image, "LABEL=imgs:/os/v2.bundle");
  EXPECT_EQ(c.init.env.at("DEBUG"), "a b");
  EXPECT_EQ(c.init.signals.at(SIGTERM), SignalAction::kPoweroff);
  EXPECT_EQ(c.sidecar.authorized_keys, (std::vector<std::string>{kEd25519}));
  EXPECT_TRUE(c.init.main.empty());  // init= is not ours

  ASSERT_TRUE(Apply(c, "initos.state.create=false initos.sidecar.enable=no").empty());
  EXPECT_FALSE(c.state.create);
  EXPECT_FALSE(c.sidecar.enable);
  ASSERT_TRUE(Apply(c, "initos.init.modules=").empty());
  EXPECT_TRUE(c.init.modules.empty());
}

TEST(CmdlineTest, MainIsAPathOrACommaList) {
  Config c = DevConfig();
  ASSERT_TRUE(Apply(c, "initos.init.main=/bin/app").empty());
  EXPECT_EQ(c.init.main, (std::vector<std::string>{"/bin/app"}));
  ASSERT_TRUE(Apply(c, "initos.init.main=\"/bin/sh,-c,echo hi\"").empty());
  EXPECT_EQ(c.init.main, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  auto problems = Apply(c, "initos.init.main=app");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("absolute path"), std::string::npos);
  EXPECT_EQ(c.init.main[0], "/bin/sh");  // unchanged
}

TEST(CmdlineTest, RefusesOverridesThatWeakenVerification) {
  Config c;
  c.rootfs.keys = {"/etc/initos/keys/release.pem"};
  c.rootfs.min_version = 10;
  c.init.cmdline_overrides = {"rootfs.min-version"};
  auto problems = Apply(c,
                        "initos.rootfs.keys=/tmp/evil.pem initos.rootfs.insecure-dev-mode=true "
                        "initos.init.allow-shell=1 initos.rootfs.min-version=3 "
                        "initos.rootfs.min-version=-1");
  ASSERT_EQ(problems.size(), 5u) << Joined(problems);
  for (const auto& p : problems) {
    EXPECT_EQ(p.file, "kernel command line");
    EXPECT_EQ(p.line, 0);
    EXPECT_NE(p.message.find("signed config"), std::string::npos) << p.str();
  }
  EXPECT_EQ(problems[0].key, "initos.rootfs.keys");
  EXPECT_EQ(c.rootfs.keys, (std::vector<std::string>{"/etc/initos/keys/release.pem"}));
  EXPECT_FALSE(c.rootfs.insecure_dev_mode);
  EXPECT_FALSE(c.init.allow_shell);
  EXPECT_EQ(c.rootfs.min_version, 10u);

  // Raising the rollback floor is stricter, so it is allowed.
  ASSERT_TRUE(Apply(c, "initos.rootfs.min-version=12 initos.rootfs.min-version=12").empty());
  EXPECT_EQ(c.rootfs.min_version, 12u);
  // Even "harmless" values of refused keys are refused: the rule is per key.
  EXPECT_EQ(Apply(c, "initos.init.allow-shell=false").size(), 1u);
}

TEST(CmdlineTest, BadParamsAreProblemsAndTheRestApply) {
  Config c = DevConfig();
  auto problems = Apply(c,
                        "initos.init.on-exit=rebot initos.init.stop-timeout-ms=2000 "
                        "initos.nope=1 initos.init.respawn-limit=lots initos.state.create=maybe "
                        "initos.sidecar.enable initos.init.env=X initos.rootfs.image=/dev/vda "
                        "initosfoo=1 root=/dev/sda");
  ASSERT_EQ(problems.size(), 7u) << Joined(problems);
  EXPECT_EQ(problems[0].str(),
            "kernel command line: initos.init.on-exit: unknown value \"rebot\"; expected one of "
            "poweroff, reboot, respawn, shell, halt");
  EXPECT_EQ(problems[1].key, "initos.nope");
  EXPECT_NE(problems[1].message.find("unknown key"), std::string::npos);
  EXPECT_NE(problems[2].message.find("not an integer"), std::string::npos);
  EXPECT_NE(problems[3].message.find("true/false, 1/0 or yes/no"), std::string::npos);
  EXPECT_NE(problems[4].message.find("missing value"), std::string::npos);
  EXPECT_NE(problems[5].message.find("init.env.NAME=value"), std::string::npos);
  EXPECT_EQ(problems[6].key, "initos.rootfs.image");
  EXPECT_EQ(c.init.stop_timeout_ms, 2000);
  EXPECT_EQ(c.init.on_exit, OnExit::kPoweroff);
}

TEST(CmdlineTest, ApplyOverrideDirectly) {
  Config c = DevConfig();
  ASSERT_TRUE(ApplyOverride(c, "init.log-level", "debug").ok());
  EXPECT_EQ(c.init.log_level, "debug");
  auto r = ApplyOverride(c, "init.log_level", "debug");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("did you mean init.log-level?"), std::string::npos);
  EXPECT_FALSE(ApplyOverride(c, "init.signals.KILL", "ignore").ok());
  EXPECT_FALSE(ApplyOverride(c, "init.signals.15", "ignore").ok());
}

}  // namespace
}  // namespace initos
