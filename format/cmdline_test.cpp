#include "format/cmdline.h"

#include <gtest/gtest.h>

#include <csignal>
#include <map>

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
            "poweroff, reboot, respawn, shell, halt; ignored initos.init.on-exit=rebot, the "
            "signed config's value stays");
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

namespace initos {
namespace {

// The decision for every key of the config table. A new key fails this test
// until someone decides who may set it besides the signed config.
TEST(CmdlineOverridePolicyTest, EveryKeyHasADecision) {
  const std::map<std::string_view, std::string_view> kDecided = {
      {"init.mode", "never"},
      {"init.main", "never"},
      {"init.on-exit", "listable"},
      {"init.modules", "never"},
      {"init.shell", "never"},
      {"init.allow-shell", "signed only"},
      {"init.stop-timeout-ms", "listable"},
      {"init.respawn-delay-ms", "listable"},
      {"init.respawn-limit", "listable"},
      {"init.respawn-window-s", "listable"},
      {"init.failure-delay-s", "listable"},
      {"init.os-init", "never"},
      {"init.log-level", "listable"},
      {"init.env", "never"},
      {"init.signals", "listable"},
      {"init.cmdline-overrides", "signed only"},
      {"rootfs.image", "never"},
      {"rootfs.slots", "signed only"},
      {"rootfs.tries", "signed only"},
      {"rootfs.name", "never"},
      {"rootfs.keys", "signed only"},
      {"rootfs.min-version", "raise only"},
      {"rootfs.on-failure", "never"},
      {"rootfs.on-corruption", "never"},
      {"rootfs.insecure-dev-mode", "signed only"},
      {"state.device", "never"},
      {"state.create", "never"},
      {"state.partition-type", "never"},
      {"state.persistent", "never"},
      {"state.allow-exec", "never"},
      {"sidecar.enable", "never"},
      {"sidecar.listen", "never"},
      {"sidecar.authorized-keys", "never"},
      {"sidecar.start", "never"},
  };
  auto keys = ConfigKeys();
  EXPECT_EQ(keys.size(), kDecided.size());
  for (const auto& k : keys) {
    auto it = kDecided.find(k.name);
    ASSERT_NE(it, kDecided.end()) << k.name << ": new key without a kernel command-line decision";
    // Jail keys are decided below (EveryJailKeyIsRefusedEvenInDevelopmentMode).
    EXPECT_FALSE(k.name.starts_with("jail")) << k.name;
    EXPECT_EQ(k.cmdline, it->second) << k.name;
    // Whatever chooses what runs or what is trusted is never listable.
    for (std::string_view prefix : {"rootfs.", "state.", "sidecar."}) {
      if (k.name.starts_with(prefix) && k.name != "rootfs.min-version") {
        EXPECT_TRUE(k.cmdline == "never" || k.cmdline == "signed only") << k.name;
      }
    }
  }
}

// [jails] and [[jail]] keys are not in the key table (they are read by
// format/jail_toml.cpp): their decision is "never, not even in development
// mode", checked here for every one of them.
TEST(CmdlineOverridePolicyTest, EveryJailKeyIsRefusedEvenInDevelopmentMode) {
  std::vector<std::string> keys;
  for (auto k : JailsSectionKeys()) keys.push_back("jails." + std::string(k));
  for (auto k : JailEntryKeys()) keys.push_back("jail.web." + std::string(k));
  EXPECT_EQ(keys.size(), 9u + 51u);  // 51: the VM keys (issue 11)
  for (const auto& key : keys) {
    Config c = DevConfig();
    Config before = c;
    auto problems = Apply(c, "initos." + key + "=1");
    ASSERT_EQ(problems.size(), 1u) << key;
    EXPECT_EQ(problems[0].key, "initos." + key);
    EXPECT_NE(problems[0].message.find("refused: [jails] and [[jail]] keys"), std::string::npos)
        << problems[0].str();
    EXPECT_EQ(c, before) << key;
  }
  Config c = DevConfig();
  EXPECT_EQ(Apply(c, "initos.jail=x initos.jails=x initos.jail[1].name=x").size(), 3u);
  // Listing one in init.cmdline-overrides is itself a (fatal) problem.
  ParsedConfig p = ParseConfig("[init]\ncmdline-overrides = [\"jails.socket\"]\n", "f");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_TRUE(p.problems[0].fatal);
  EXPECT_NE(p.problems[0].message.find("can never come from the kernel command line"),
            std::string::npos);
}

// Outside development mode: an unlisted key, a never key (even listed:
// the signed config itself is refused then) and a signed-only key are
// refused, each with its own line; a listed key applies.
TEST(CmdlineOverridePolicyTest, VerifiedModeAppliesOnlyListedKeys) {
  Config c;
  c.rootfs.image = "PARTLABEL=rootA";
  c.init.main = {"/app"};
  c.init.cmdline_overrides = {"init.log-level"};
  auto problems = Apply(c,
                        "initos.init.log-level=debug initos.init.on-exit=reboot "
                        "initos.rootfs.image= initos.init.main=/bin/sh initos.init.os-init=/bin/sh "
                        "initos.state.device= initos.sidecar.authorized-keys=x "
                        "initos.init.env.LD_PRELOAD=/x.so initos.init.cmdline-overrides=init.main "
                        "initos.rootfs.keys=/evil.pem");
  ASSERT_EQ(problems.size(), 9u) << Joined(problems);
  for (const auto& p : problems) EXPECT_NE(p.message.find("refused"), std::string::npos) << p.str();
  EXPECT_EQ(c.init.log_level, "debug");
  EXPECT_EQ(c.init.on_exit, OnExit::kPoweroff);
  EXPECT_EQ(c.rootfs.image, "PARTLABEL=rootA");
  EXPECT_EQ(c.init.main, (std::vector<std::string>{"/app"}));
  EXPECT_TRUE(c.init.env.empty());
  EXPECT_EQ(c.init.cmdline_overrides, (std::vector<std::string>{"init.log-level"}));

  // Listing a key that chooses what runs is itself a (fatal) config problem.
  ParsedConfig bad = ParseConfig("[init]\ncmdline-overrides = [\"init.main\"]\n", "f");
  ASSERT_EQ(bad.problems.size(), 1u) << Joined(bad.problems);
  EXPECT_TRUE(bad.problems[0].fatal);
  EXPECT_NE(bad.problems[0].message.find("can never come from the kernel command line"),
            std::string::npos);
}

// An empty image, name or state device never comes from the command line,
// not even in development mode.
TEST(CmdlineOverridePolicyTest, EmptyImageOrStateRefusedEvenInDevelopmentMode) {
  Config c = DevConfig();
  c.rootfs.image = "PARTLABEL=rootA";
  c.rootfs.name = "testos";
  c.state.device = "PARTLABEL=state";
  auto problems = Apply(c, "initos.rootfs.image= initos.rootfs.name= initos.state.device=");
  ASSERT_EQ(problems.size(), 3u) << Joined(problems);
  for (const auto& p : problems)
    EXPECT_NE(p.message.find("would disable verification"), std::string::npos) << p.str();
  EXPECT_EQ(c.rootfs.image, "PARTLABEL=rootA");
  EXPECT_EQ(c.rootfs.name, "testos");
  EXPECT_EQ(c.state.device, "PARTLABEL=state");
  // A non-empty value still applies in development mode.
  EXPECT_TRUE(Apply(c, "initos.rootfs.image=PARTLABEL=rootB").empty());
  EXPECT_EQ(c.rootfs.image, "PARTLABEL=rootB");
}

// A config problem on a key that decides what runs or is trusted stops the
// boot (fatal); elsewhere the key keeps its default.
TEST(CmdlineOverridePolicyTest, FatalProblems) {
  auto fatal_of = [](const std::string& toml) {
    ParsedConfig p = ParseConfig(toml, "f");
    EXPECT_EQ(p.problems.size(), 1u) << Joined(p.problems);
    return !p.problems.empty() && p.problems[0].fatal;
  };
  EXPECT_TRUE(fatal_of("[rootfs]\nimage = \"/dev/vda\"\n"));
  EXPECT_TRUE(fatal_of("[rootfs]\nimgae = \"PARTLABEL=a\"\n"));  // typo: would boot unverified
  EXPECT_TRUE(fatal_of("[init]\nmode = \"jail\"\n"));
  EXPECT_TRUE(fatal_of("[init]\nmode = \"jails\"\n"));
  EXPECT_TRUE(fatal_of("[rootfs]\nimage = \"PARTLABEL=a\"\n"));  // no rootfs.name
  EXPECT_TRUE(fatal_of("[sidecar]\nauthorized-keys = [\"nonsense\"]\n"));
  EXPECT_FALSE(fatal_of("[init]\nlog-level = \"loud\"\n"));
  EXPECT_FALSE(fatal_of("[init]\nno-such-key = 1\n"));
}

// Issue 13: in verified mode no kernel command-line key weakens
// verification. Each key that could (trust, floor, failure policy, image
// and state locators, what runs) is refused even when the signed config's
// init.cmdline-overrides names it (which ParseConfig refuses anyway, below),
// leaves the config as it was, and its line names the key, the value and
// why.
struct Weakening {
  std::string key;
  std::string value;
  std::string why;  // part of the message
};

const std::vector<Weakening>& WeakeningOverrides() {
  static const std::vector<Weakening> k = {
      {"rootfs.keys", "/tmp/evil.pem", "only be set in the signed config"},
      {"rootfs.min-version", "0", "would lower the anti-rollback floor below 5"},
      {"rootfs.on-failure", "shell", "chooses what runs or what is trusted"},
      {"rootfs.on-corruption", "restart", "chooses what runs or what is trusted"},
      {"rootfs.insecure-dev-mode", "1", "only be set in the signed config"},
      {"rootfs.image", "PARTLABEL=old", "chooses what runs or what is trusted"},
      {"rootfs.name", "otheros", "chooses what runs or what is trusted"},
      {"state.device", "PARTLABEL=evil", "chooses what runs or what is trusted"},
      {"state.partition-type", "0fc63daf-8483-4772-8e79-3d69d8477de4",
       "chooses what runs or what is trusted"},
      {"state.create", "true", "chooses what runs or what is trusted"},
      {"state.persistent", "/etc", "chooses what runs or what is trusted"},
      {"state.allow-exec", "/var", "chooses what runs or what is trusted"},
      {"init.allow-shell", "true", "only be set in the signed config"},
      {"init.cmdline-overrides", "rootfs.image", "only be set in the signed config"},
      {"init.main", "/bin/sh", "chooses what runs or what is trusted"},
      {"init.mode", "run", "chooses what runs or what is trusted"},
      {"init.shell", "/bin/sh", "chooses what runs or what is trusted"},
      {"init.modules", "evil", "chooses what runs or what is trusted"},
      {"init.os-init", "/bin/sh", "chooses what runs or what is trusted"},
      {"init.env.LD_PRELOAD", "/x.so", "chooses what runs or what is trusted"},
      {"sidecar.authorized-keys", "ssh-ed25519", "chooses what runs or what is trusted"},
      {"jail.os.rootfs", "/srv/evil", "[jails] and [[jail]] keys"},
  };
  return k;
}

Config VerifiedConfig() {
  Config c;
  c.rootfs.image = "PARTLABEL=rootA";
  c.rootfs.name = "testos";
  c.rootfs.keys = {"/etc/initos/keys/release.pem"};
  c.rootfs.min_version = 5;
  c.state.device = "PARTLABEL=state";
  c.init.main = {"/app"};
  return c;
}

TEST(CmdlineVerifiedMode, EveryWeakeningKeyIsIgnoredEvenWhenListed) {
  for (const Weakening& w : WeakeningOverrides()) {
    Config c = VerifiedConfig();
    // As if the signed config listed every key (ParseConfig refuses that).
    std::string base = w.key.substr(0, w.key.rfind('.'));
    c.init.cmdline_overrides = {w.key, base};
    Config before = c;
    auto problems = Apply(c, "initos." + w.key + "=" + w.value);
    ASSERT_EQ(problems.size(), 1u) << w.key << ": " << Joined(problems);
    EXPECT_EQ(problems[0].key, "initos." + w.key);
    EXPECT_NE(problems[0].message.find(w.why), std::string::npos) << problems[0].str();
    EXPECT_NE(problems[0].message.find("ignored initos." + w.key + "=" + w.value +
                                       ", the signed config's value stays"),
              std::string::npos)
        << problems[0].str();
    EXPECT_EQ(c, before) << w.key << " changed the config";
  }
}

TEST(CmdlineVerifiedMode, ListingAWeakeningKeyIsAFatalConfigError) {
  for (const Weakening& w : WeakeningOverrides()) {
    std::string key = w.key == "init.env.LD_PRELOAD" ? "init.env" : w.key;
    if (key == "rootfs.min-version") continue;  // raise-only: listable, lowering refused above
    ParsedConfig p = ParseConfig("[init]\ncmdline-overrides = [\"" + key + "\"]\n", "f");
    ASSERT_EQ(p.problems.size(), 1u) << key << ": " << Joined(p.problems);
    EXPECT_TRUE(p.problems[0].fatal) << key;
    EXPECT_EQ(p.problems[0].key, "init.cmdline-overrides");
    EXPECT_NE(p.problems[0].message.find("can never come from the kernel command line"),
              std::string::npos)
        << p.problems[0].str();
  }
}

// Development mode lifts the "never" keys (a developer may point at another
// image), but never the signed-only ones, and the floor still only rises.
TEST(CmdlineVerifiedMode, DevelopmentModeStillRefusesTrustAndFloor) {
  for (const std::string& kv :
       {std::string("rootfs.keys=/tmp/evil.pem"), std::string("rootfs.insecure-dev-mode=0"),
        std::string("init.allow-shell=1"), std::string("init.cmdline-overrides=init.main"),
        std::string("rootfs.min-version=4")}) {
    Config c = VerifiedConfig();
    c.rootfs.insecure_dev_mode = true;
    Config before = c;
    auto problems = Apply(c, "initos." + kv);
    ASSERT_EQ(problems.size(), 1u) << kv;
    EXPECT_NE(problems[0].message.find("refused"), std::string::npos) << problems[0].str();
    EXPECT_EQ(c, before) << kv;
  }
  Config c = VerifiedConfig();
  c.rootfs.insecure_dev_mode = true;
  EXPECT_TRUE(Apply(c, "initos.rootfs.on-failure=shell").empty());
  EXPECT_EQ(c.rootfs.on_failure, OnFailure::kShell);
}

// The value in the log line is whatever the boot loader passed: printable
// ASCII only, and cut.
TEST(CmdlineVerifiedMode, LoggedValueIsSanitised) {
  Config c = VerifiedConfig();
  auto problems =
      Apply(c, "\"initos.rootfs.image=a\x1b[2Jb\" initos.rootfs.name=" + std::string(200, 'x'));
  ASSERT_EQ(problems.size(), 2u) << Joined(problems);
  EXPECT_NE(problems[0].message.find("ignored initos.rootfs.image=a?[2Jb,"), std::string::npos)
      << problems[0].str();
  EXPECT_NE(problems[1].message.find("=" + std::string(80, 'x') + "...,"), std::string::npos)
      << problems[1].str();
}

}  // namespace
}  // namespace initos
