#include "format/config.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <set>

#include "base/file.h"
#include "format/config_values.h"

namespace initos {
namespace {

constexpr char kEd25519[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOQdVOMJPUxg/PMeFUd6sZc+SCN3D0a4QphKYP0hwuQW test@initos";
constexpr char kEcdsa[] =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIR3ffyfTDbmKP3ycjcnhvewprQjOZDL2R0xEV9C3"
    "taxPtj7B0WAhz5RnMlFeX4HLqOj7Y1v8wCYZ2zYhrft25E= e";

std::string Joined(const std::vector<ConfigProblem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.str() + "\n";
  return s;
}

// Parses a config that must have exactly one problem and returns it.
ConfigProblem OnlyProblem(const std::string& toml) {
  ParsedConfig p = ParseConfig(toml, "initos.toml");
  EXPECT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  return p.problems.empty() ? ConfigProblem{} : p.problems[0];
}

TEST(ConfigTest, FullConfigFillsEveryField) {
  std::string toml = R"(
[init]
mode = "switch-root"
main = ["/bin/sh", "-c", "echo hi"]
on-exit = "respawn"
modules = ["virtio_blk", "dm-verity"]
shell = ["/bin/busybox", "sh"]
allow-shell = true
stop-timeout-ms = 1234
respawn-delay-ms = 250
respawn-limit = 3
respawn-window-s = 30
failure-delay-s = 2
os-init = "/sbin/init"
log-level = "debug"
cmdline-overrides = ["init.log-level", "rootfs.min-version"]

[init.env]
PATH = "/bin"
LANG = "C.UTF-8"

[init.signals]
SIGTERM = "poweroff"
usr1 = "ignore"
Hup = "reboot"

[rootfs]
image = "LABEL=images:/os/v1.bundle"
name = "myos"
keys = ["/etc/initos/keys/a.pem", "/etc/initos/keys/b.pem"]
min-version = 42
on-failure = "halt"
on-corruption = "panic"
insecure-dev-mode = true

[state]
device = "PARTLABEL=state"
create = true
partition-type = "4d21b016-b534-45c2-a9fb-5c16e091fd2d"
persistent = ["/var", "/srv/data"]
allow-exec = ["/var"]

[sidecar]
enable = true
listen = ["127.0.0.1:2222", "[::1]:22"]
authorized-keys = [")" +
                     std::string(kEd25519) + R"(", ")" + kEcdsa + R"("]
start = "after-os-init"
)";
  ParsedConfig p = ParseConfig(toml, "initos.toml");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  const Config& c = p.config;
  EXPECT_EQ(c.init.mode, InitMode::kSwitchRoot);
  EXPECT_EQ(c.init.main, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(c.init.on_exit, OnExit::kRespawn);
  EXPECT_EQ(c.init.modules, (std::vector<std::string>{"virtio_blk", "dm-verity"}));
  EXPECT_EQ(c.init.shell, (std::vector<std::string>{"/bin/busybox", "sh"}));
  EXPECT_TRUE(c.init.allow_shell);
  EXPECT_EQ(c.init.stop_timeout_ms, 1234);
  EXPECT_EQ(c.init.respawn_delay_ms, 250);
  EXPECT_EQ(c.init.respawn_limit, 3);
  EXPECT_EQ(c.init.respawn_window_s, 30);
  EXPECT_EQ(c.init.failure_delay_s, 2);
  EXPECT_EQ(c.init.os_init, "/sbin/init");
  EXPECT_EQ(c.init.log_level, "debug");
  EXPECT_EQ(c.init.cmdline_overrides,
            (std::vector<std::string>{"init.log-level", "rootfs.min-version"}));
  EXPECT_EQ(c.init.env,
            (std::map<std::string, std::string>{{"PATH", "/bin"}, {"LANG", "C.UTF-8"}}));
  EXPECT_EQ(c.init.signals, (std::map<int, SignalAction>{{SIGTERM, SignalAction::kPoweroff},
                                                         {SIGUSR1, SignalAction::kIgnore},
                                                         {SIGHUP, SignalAction::kReboot}}));
  EXPECT_EQ(c.rootfs.image, "LABEL=images:/os/v1.bundle");
  EXPECT_EQ(c.rootfs.name, "myos");
  EXPECT_EQ(c.rootfs.keys.size(), 2u);
  EXPECT_EQ(c.rootfs.min_version, 42u);
  EXPECT_EQ(c.rootfs.on_failure, OnFailure::kHalt);
  EXPECT_EQ(c.rootfs.on_corruption, CorruptionPolicy::kPanic);
  EXPECT_TRUE(c.rootfs.insecure_dev_mode);
  EXPECT_EQ(c.state.device, "PARTLABEL=state");
  EXPECT_TRUE(c.state.create);
  EXPECT_EQ(c.state.partition_type, "4d21b016-b534-45c2-a9fb-5c16e091fd2d");
  EXPECT_EQ(c.state.persistent, (std::vector<std::string>{"/var", "/srv/data"}));
  EXPECT_EQ(c.state.allow_exec, (std::vector<std::string>{"/var"}));
  EXPECT_TRUE(c.sidecar.enable);
  EXPECT_EQ(c.sidecar.listen, (std::vector<std::string>{"127.0.0.1:2222", "[::1]:22"}));
  EXPECT_EQ(c.sidecar.authorized_keys, (std::vector<std::string>{kEd25519, kEcdsa}));
  EXPECT_EQ(c.sidecar.start, SidecarStart::kAfterOsInit);
}

TEST(ConfigTest, EmptyTextGivesDefaults) {
  ParsedConfig p = ParseConfig("", "initos.toml");
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.config, Config{});
}

TEST(ConfigTest, DottedKeysAndInlineTablesWork) {
  ParsedConfig p = ParseConfig(
      "init.on-exit = \"halt\"\nstate = { create = true, device = \"PARTUUID=0f3b4c1e-2f8a-4d3c-"
      "9d52-6a1b2c3d4e5f\" }\n",
      "f");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.init.on_exit, OnExit::kHalt);
  EXPECT_TRUE(p.config.state.create);
}

TEST(ConfigTest, ProblemStrOmitsZeroLine) {
  EXPECT_EQ((ConfigProblem{"initos.toml", 7, "init.on-exit", "bad"}).str(),
            "initos.toml:7: init.on-exit: bad");
  EXPECT_EQ((ConfigProblem{"kernel command line", 0, "initos.x", "bad"}).str(),
            "kernel command line: initos.x: bad");
}

TEST(ConfigTest, SyntaxErrorHasFileAndLineAndStops) {
  ParsedConfig p = ParseConfig("[init]\nmode = \"run\"\non-exit = \"halt\n[rootfs]\n", "my.toml");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].file, "my.toml");
  EXPECT_EQ(p.problems[0].line, 3);
  EXPECT_NE(p.problems[0].message.find("syntax"), std::string::npos);
  EXPECT_EQ(p.config, Config{});  // nothing applied from a broken file

  p = ParseConfig("[init]\nmode = \"run\"\nmode = \"jail\"\n", "dup.toml");
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0].line, 3);
}

TEST(ConfigTest, UnknownKeySuggestsTheRightOne) {
  ConfigProblem p = OnlyProblem("[init]\nmode = \"run\"\non_exit = \"halt\"\n");
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.key, "init.on_exit");
  EXPECT_NE(p.message.find("unknown key"), std::string::npos);
  EXPECT_NE(p.message.find("did you mean init.on-exit?"), std::string::npos) << p.message;

  p = OnlyProblem("mode = \"run\"\n");  // outside any section
  EXPECT_EQ(p.key, "mode");
  EXPECT_NE(p.message.find("did you mean init.mode?"), std::string::npos) << p.message;
}

TEST(ConfigTest, UnknownSectionListsSections) {
  ConfigProblem p = OnlyProblem("[init]\n\n[network]\naddress = \"x\"\n");
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.key, "network");
  EXPECT_NE(p.message.find("unknown section [network]"), std::string::npos);
  EXPECT_NE(p.message.find("[init], [rootfs], [state], [sidecar]"), std::string::npos) << p.message;

  p = OnlyProblem("[init.envs]\nA = \"b\"\n");
  EXPECT_EQ(p.key, "init.envs");
}

TEST(ConfigTest, WrongTypesNameExpectedType) {
  struct Case {
    std::string toml, key, want;
  };
  for (const auto& c : std::vector<Case>{
           {"[init]\nmode = 3", "init.mode", "got integer, expected a string"},
           {"[init]\nallow-shell = \"yes\"", "init.allow-shell",
            "got string, expected true or false"},
           {"[init]\nrespawn-limit = \"5\"", "init.respawn-limit",
            "got string, expected an integer"},
           {"[init]\nrespawn-limit = 1.5", "init.respawn-limit", "got floating-point"},
           {"[init]\nmain = \"/bin/sh\"", "init.main", "expected a list of strings"},
           {"[init]\nmain = [\"/bin/sh\", 1]", "init.main", "entry 2 is integer"},
           {"[init]\nenv = \"A=b\"", "init.env", "expected a table"},
           {"[init.env]\nA = 1", "init.env.A", "got integer, expected a string"},
           {"rootfs = 1", "rootfs", "unknown key"},
       }) {
    ConfigProblem p = OnlyProblem(c.toml);
    EXPECT_EQ(p.key, c.key) << c.toml;
    EXPECT_NE(p.message.find(c.want), std::string::npos) << c.toml << " → " << p.message;
    EXPECT_EQ(p.line, 2 - (c.toml.find('\n') == std::string::npos)) << c.toml;
  }
}

TEST(ConfigTest, BadEnumValueSaysWhatIsAllowed) {
  ConfigProblem p = OnlyProblem("# comment\n\n[init]\nmode = \"run\"\n\n\non-exit = \"rebot\"\n");
  EXPECT_EQ(p.str(),
            "initos.toml:7: init.on-exit: unknown value \"rebot\"; expected one of poweroff, "
            "reboot, respawn, shell, halt");
  EXPECT_NE(OnlyProblem("[init]\nmode = \"chroot\"").message.find("run, switch-root, jail"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[rootfs]\non-failure = \"x\"").message.find("reboot, halt, shell"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[rootfs]\non-corruption = \"x\"").message.find("eio, restart, panic"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[init]\nlog-level = \"verbose\"").message.find("emerg, alert"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[init.signals]\nTERM = \"die\"").message.find("forward, ignore"),
            std::string::npos);
}

TEST(ConfigTest, IntegerRangesAreChecked) {
  EXPECT_EQ(OnlyProblem("[init]\nstop-timeout-ms = -1").key, "init.stop-timeout-ms");
  EXPECT_NE(OnlyProblem("[init]\nrespawn-window-s = 0").message.find("from 1 to"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[init]\nrespawn-limit = 9999999999").message.find("out of range"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[rootfs]\nmin-version = -3").message.find("negative"), std::string::npos);
  ParsedConfig p = ParseConfig("[rootfs]\nmin-version = 9000000000", "f");
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.config.rootfs.min_version, 9000000000u);
}

TEST(ConfigTest, PathsAndNamesAreChecked) {
  EXPECT_NE(OnlyProblem("[init]\nmain = [\"sh\"]").message.find("not an absolute path"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[init]\nshell = []").message.find("empty argv"), std::string::npos);
  EXPECT_NE(OnlyProblem("[init]\nmodules = [\"/lib/x.ko\"]").message.find("bare module name"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[init]\nos-init = \"sbin/init\"").message.find("absolute"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[rootfs]\nkeys = [\"k.pem\"]").message.find("absolute"),
            std::string::npos);
  EXPECT_NE(OnlyProblem("[init.env]\n\"1BAD\" = \"x\"").message.find("bad variable name"),
            std::string::npos);
}

TEST(ConfigTest, SignalNames) {
  ConfigProblem p = OnlyProblem("[init.signals]\n15 = \"reboot\"");
  EXPECT_EQ(p.key, "init.signals.15");
  EXPECT_NE(p.message.find("numbers are not accepted"), std::string::npos);
  EXPECT_NE(
      OnlyProblem("[init.signals]\nSIGKILL = \"reboot\"").message.find("cannot be configured"),
      std::string::npos);
  EXPECT_NE(OnlyProblem("[init.signals]\nchld = \"ignore\"").message.find("cannot be configured"),
            std::string::npos);
}

TEST(ConfigTest, ImageSpecs) {
  for (const char* good : {"", "PARTLABEL=root_a", "LABEL=imgs", "LABEL=imgs:/os/v1.bundle",
                           "LABEL=a.b-c+d:/x.bundle", "SERIAL=initos-rootfs"})
    EXPECT_TRUE(ValidateImageSpec(good).ok()) << good;
  for (const char* bad :
       {"UUID=1234", "/dev/vda", "LABEL=", "PARTLABEL=a:/x.bundle", "LABEL=imgs:os.bundle",
        "LABEL=imgs:/os/v1.img", "LABEL=imgs:/../x.bundle", "LABEL=has space",
        "LABEL=imgs:", "LABEL=a/b", "LABEL=0123456789012345678901234567890123456",
        "SERIAL=", "SERIAL=a:/x.bundle", "SERIAL=123456789012345678901"})
    EXPECT_FALSE(ValidateImageSpec(bad).ok()) << bad;
  ConfigProblem p = OnlyProblem("[rootfs]\nimage = \"/dev/vda\"");
  EXPECT_EQ(p.key, "rootfs.image");
  EXPECT_NE(p.message.find("expected PARTLABEL=name, LABEL=name, LABEL=name:/path/file.bundle or "
                           "SERIAL=serial"),
            std::string::npos);
  EXPECT_FALSE(ParseConfig("[state]\ndevice = \"LABEL=x:/a.bundle\"", "f").problems.empty());
  EXPECT_TRUE(ParseConfig("[state]\ndevice = \"LABEL=state\"", "f").problems.empty());
  EXPECT_TRUE(ParseConfig("[state]\ndevice = \"SERIAL=initos-state\"", "f").problems.empty());
}

TEST(ConfigTest, ListenAddresses) {
  for (const char* good : {"0.0.0.0:22", "[::]:22", "127.0.0.1:65535", "[fe80::1]:2222"})
    EXPECT_TRUE(ValidateListenAddress(good).ok()) << good;
  for (const char* bad : {"0.0.0.0", ":22", "localhost:22", "0.0.0.0:0", "0.0.0.0:65536", "[::]22",
                          "::1:22", "[::1]:", "1.2.3.4:2x", "[1.2.3.4]:22"})
    EXPECT_FALSE(ValidateListenAddress(bad).ok()) << bad;
  ConfigProblem p = OnlyProblem("[sidecar]\nlisten = [\"0.0.0.0:22\", \"host:22\"]");
  EXPECT_EQ(p.key, "sidecar.listen");
  EXPECT_NE(p.message.find("\"host\" is not a numeric IPv4 address"), std::string::npos);
}

TEST(ConfigTest, AuthorizedKeys) {
  EXPECT_TRUE(ValidateAuthorizedKey(kEd25519).ok());
  EXPECT_TRUE(ValidateAuthorizedKey(kEcdsa).ok());
  std::string no_comment(kEd25519);
  no_comment.resize(no_comment.rfind(' '));
  EXPECT_TRUE(ValidateAuthorizedKey(no_comment).ok());
  std::string truncated(no_comment, 0, no_comment.size() - 4);
  EXPECT_FALSE(ValidateAuthorizedKey(truncated).ok());
  // Type and blob disagree: the ed25519 blob labelled as RSA.
  std::string mislabelled = "ssh-rsa" + no_comment.substr(std::string("ssh-ed25519").size());
  EXPECT_NE(ValidateAuthorizedKey(mislabelled).error().message.find("does not match"),
            std::string::npos);
  EXPECT_FALSE(ValidateAuthorizedKey("ssh-ed25519").ok());
  EXPECT_FALSE(ValidateAuthorizedKey("ssh-ed25519 !!!!").ok());
  EXPECT_FALSE(ValidateAuthorizedKey("ssh-dss AAAAB3NzaC1kc3M= x").ok());
  EXPECT_FALSE(ValidateAuthorizedKey("-----BEGIN OPENSSH PRIVATE KEY-----").ok());
  EXPECT_NE(ValidateAuthorizedKey(std::string("restrict ") + kEd25519)
                .error()
                .message.find("unknown key type"),
            std::string::npos);
  EXPECT_NE(ValidateAuthorizedKey(std::string("no-pty,restrict ") + kEd25519)
                .error()
                .message.find("options"),
            std::string::npos);

  ConfigProblem p = OnlyProblem(std::string("[sidecar]\nauthorized-keys = [\"") + kEd25519 +
                                "\", \"ssh-ed25519 AAAA\"]");
  EXPECT_EQ(p.key, "sidecar.authorized-keys");
  EXPECT_NE(p.message.find("entry 2"), std::string::npos) << p.message;
}

TEST(ConfigTest, CollectsEveryProblemAndKeepsGoodValues) {
  ParsedConfig p = ParseConfig(R"([init]
on-exit = "rebot"
bogus = 1
respawn-limit = 7
allow-shell = "no"

[rootfs]
image = "nope"
on-failure = "halt"

[extra]
)",
                               "initos.toml");
  ASSERT_EQ(p.problems.size(), 5u) << Joined(p.problems);
  std::vector<int> lines;  // reported in file order
  for (const auto& pr : p.problems) lines.push_back(pr.line);
  EXPECT_EQ(lines, (std::vector<int>{2, 3, 5, 8, 11}));
  EXPECT_EQ(p.config.init.respawn_limit, 7);
  EXPECT_EQ(p.config.rootfs.on_failure, OnFailure::kHalt);
  EXPECT_EQ(p.config.init.on_exit, OnExit::kPoweroff);  // bad value keeps the default
}

TEST(ConfigTest, ShellOnExitNeedsAllowShell) {
  ConfigProblem p = OnlyProblem("[init]\non-exit = \"shell\"");
  EXPECT_EQ(p.key, "init.on-exit");
  EXPECT_NE(p.message.find("allow-shell = true"), std::string::npos);
  EXPECT_TRUE(ParseConfig("[init]\non-exit = \"shell\"\nallow-shell = true", "f").problems.empty());
  // The same mistake made on the kernel command line is reported there, once.
  const std::string listed = "[init]\ncmdline-overrides = [\"init.on-exit\"]\n";
  ParsedConfig l = LoadConfig(listed, "initos.toml", "initos.init.on-exit=shell");
  ASSERT_EQ(l.problems.size(), 1u) << Joined(l.problems);
  EXPECT_EQ(l.problems[0].file, "kernel command line");
  EXPECT_EQ(
      LoadConfig(listed + "on-exit = \"shell\"", "f", "initos.init.on-exit=shell").problems.size(),
      1u);
  EXPECT_TRUE(
      LoadConfig(listed + "allow-shell = true", "f", "initos.init.on-exit=shell").problems.empty());
}

TEST(ConfigTest, StateCreateNeedsPartLabel) {
  ConfigProblem p = OnlyProblem(
      "[state]\ndevice = \"LABEL=state\"\ncreate = true\n"
      "partition-type = \"4d21b016-b534-45c2-a9fb-5c16e091fd2d\"\n");
  EXPECT_EQ(p.key, "state.create");
  EXPECT_NE(p.message.find("PARTLABEL="), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("LABEL=state"), std::string::npos) << p.message;
  EXPECT_TRUE(ParseConfig("[state]\ndevice = \"PARTLABEL=state\"\ncreate = true\n"
                          "partition-type = \"4d21b016-b534-45c2-a9fb-5c16e091fd2d\"\n",
                          "f")
                  .problems.empty());
  EXPECT_TRUE(
      ParseConfig("[state]\ndevice = \"LABEL=state\"\ncreate = false\n", "f").problems.empty());
  // Switching create on from the kernel command line is checked as well.
  ParsedConfig l = LoadConfig(
      "[rootfs]\ninsecure-dev-mode = true\n[state]\ndevice = \"LABEL=state\"\n"
      "partition-type = \"4d21b016-b534-45c2-a9fb-5c16e091fd2d\"\n",
      "f", "initos.state.create=1");
  ASSERT_EQ(l.problems.size(), 1u) << Joined(l.problems);
  EXPECT_EQ(l.problems[0].key, "state.create");
}

// A whole disk the VM supervisor made and named: create needs no partition
// type (there is no partition), and a partition type cannot be checked.
TEST(ConfigTest, StateCreateOnSerialDisk) {
  EXPECT_TRUE(ParseConfig("[state]\ndevice = \"SERIAL=initos-state\"\ncreate = true\n", "f")
                  .problems.empty());
  ConfigProblem p = OnlyProblem(
      "[state]\ndevice = \"SERIAL=initos-state\"\n"
      "partition-type = \"4d21b016-b534-45c2-a9fb-5c16e091fd2d\"\n");
  EXPECT_EQ(p.key, "state.partition-type");
  EXPECT_TRUE(p.fatal);
}

TEST(ConfigTest, OsArgvAndGuest) {
  ParsedConfig p = ParseConfig(
      "[init]\nmode = \"switch-root\"\nos-argv = [\"/sbin/init\", \"--jail\", \"web\"]\n"
      "[guest]\njail = \"web\"\nvsock = true\n",
      "f");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.init.os_argv, (std::vector<std::string>{"/sbin/init", "--jail", "web"}));
  EXPECT_EQ(p.config.guest.jail, "web");
  EXPECT_TRUE(p.config.guest.vsock);

  ConfigProblem both = OnlyProblem(
      "[init]\nmode = \"switch-root\"\nos-init = \"/sbin/init\"\nos-argv = [\"/bin/sh\"]\n");
  EXPECT_EQ(both.key, "init.os-argv");
  EXPECT_TRUE(both.fatal);
  EXPECT_NE(both.message.find("os-init"), std::string::npos);
  ConfigProblem mode = OnlyProblem("[init]\nos-argv = [\"/bin/sh\"]\n");
  EXPECT_EQ(mode.key, "init.os-argv");
  EXPECT_TRUE(mode.fatal);
  ConfigProblem relative =
      OnlyProblem("[init]\nmode = \"switch-root\"\nos-argv = [\"sh\", \"-c\", \"x\"]\n");
  EXPECT_EQ(relative.key, "init.os-argv");
  EXPECT_TRUE(relative.fatal);
  ConfigProblem noname = OnlyProblem("[init]\nmode = \"switch-root\"\n[guest]\nvsock = true\n");
  EXPECT_EQ(noname.key, "guest.vsock");
  EXPECT_TRUE(noname.fatal);
  ConfigProblem run_mode = OnlyProblem("[guest]\njail = \"web\"\nvsock = true\n");
  EXPECT_EQ(run_mode.key, "guest.vsock");
  EXPECT_NE(run_mode.message.find("switch-root"), std::string::npos);
  EXPECT_TRUE(run_mode.fatal);
  ConfigProblem badname = OnlyProblem("[guest]\njail = \"a/b\"\n");
  EXPECT_EQ(badname.key, "guest.jail");
  EXPECT_TRUE(badname.fatal);
  ConfigProblem typo = OnlyProblem("[guest]\nvsok = true\n");
  EXPECT_TRUE(typo.fatal) << typo.str();

  // Never from the kernel command line, not even in development mode.
  Config c = p.config;
  c.rootfs.insecure_dev_mode = true;
  for (auto [key, value] :
       {std::pair{"init.os-argv", "/bin/sh"}, {"guest.jail", "other"}, {"guest.vsock", "false"}}) {
    auto r = ApplyOverride(c, key, value);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_NE(r.error().message.find("signed config"), std::string::npos) << key;
  }
  EXPECT_EQ(c.guest.jail, "web");
  EXPECT_EQ(c.init.os_argv.size(), 3u);
}

TEST(ConfigTest, SignalDefaultsDoNotOverrideConfig) {
  ParsedConfig p = ParseConfig("[init.signals]\nSIGTERM = \"poweroff\"\nSIGHUP = \"ignore\"", "f");
  ASSERT_TRUE(p.problems.empty());
  FillSignalDefaults(p.config.init);
  auto& s = p.config.init.signals;
  EXPECT_EQ(s.at(SIGTERM), SignalAction::kPoweroff);
  EXPECT_EQ(s.at(SIGHUP), SignalAction::kIgnore);
  EXPECT_EQ(s.at(SIGUSR1), SignalAction::kHalt);
  EXPECT_EQ(s.at(SIGUSR2), SignalAction::kPoweroff);
  EXPECT_EQ(s.at(SIGPWR), SignalAction::kPoweroff);
  EXPECT_EQ(s.at(SIGINT), SignalAction::kReboot);
  EXPECT_EQ(s.at(SIGQUIT), SignalAction::kForward);
  EXPECT_EQ(s.at(SIGWINCH), SignalAction::kForward);
  EXPECT_EQ(s.at(SIGCONT), SignalAction::kForward);
  EXPECT_EQ(s.count(SIGCHLD), 0u);
}

TEST(ConfigTest, LoadConfigCombinesFileCmdlineAndDefaults) {
  ParsedConfig p = LoadConfig(
      "[init]\non-exit = \"halt\"\ncmdline-overrides = [\"init.on-exit\", "
      "\"init.signals\"]\n[init.signals]\nTERM = \"halt\"\n",
      "initos.toml",
      "console=ttyS0 initos.init.on-exit=reboot initos.bogus=1 "
      "initos.init.signals.USR1=ignore quiet\n");
  ASSERT_EQ(p.problems.size(), 1u) << Joined(p.problems);
  EXPECT_EQ(p.problems[0].file, "kernel command line");
  EXPECT_EQ(p.problems[0].key, "initos.bogus");
  EXPECT_EQ(p.config.init.on_exit, OnExit::kReboot);
  EXPECT_EQ(p.config.init.signals.at(SIGTERM), SignalAction::kHalt);
  EXPECT_EQ(p.config.init.signals.at(SIGUSR1), SignalAction::kIgnore);
  EXPECT_EQ(p.config.init.signals.at(SIGPWR), SignalAction::kPoweroff);

  // A config that does not parse allows no override: the mode stays "run".
  p = LoadConfig("[init\n", "initos.toml", "initos.init.mode=switch-root");
  ASSERT_EQ(p.problems.size(), 2u);
  EXPECT_EQ(p.problems[0].line, 1);
  EXPECT_NE(p.problems[1].message.find("refused"), std::string::npos);
  EXPECT_EQ(p.config.init.mode, InitMode::kRun);
}

TEST(ConfigTest, EnumNamesForLogging) {
  EXPECT_EQ(OnExitName(OnExit::kRespawn), "respawn");
  EXPECT_EQ(SignalActionName(SignalAction::kForward), "forward");
  EXPECT_EQ(InitModeName(InitMode::kSwitchRoot), "switch-root");
  EXPECT_EQ(OnFailureName(OnFailure::kPoweroff), "poweroff");
  EXPECT_EQ(CorruptionPolicyName(CorruptionPolicy::kRestart), "restart");
  EXPECT_EQ(LogLevelPriority("emerg"), 0);
  EXPECT_EQ(LogLevelPriority("debug"), 7);
  EXPECT_EQ(LogLevelPriority("loud"), std::nullopt);
}

// ---- the shipped configs ----------------------------------------------------

std::filesystem::path ConfigsDir() {
  return std::filesystem::path(INITOS_SOURCE_DIR) / "configs";
}

std::string ReadConfig(const std::filesystem::path& path) {
  auto text = ReadFileToString(path.string());
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? *text : "";
}

TEST(ShippedConfigsTest, EveryFileParsesWithoutProblems) {
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(ConfigsDir())) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    ParsedConfig p = ParseConfig(ReadConfig(entry.path()), entry.path().filename().string());
    EXPECT_TRUE(p.problems.empty()) << entry.path() << "\n" << Joined(p.problems);
  }
  EXPECT_GE(count, 2);
}

TEST(ShippedConfigsTest, ReferenceConfigEqualsBuiltInDefaults) {
  ParsedConfig p = ParseConfig(ReadConfig(ConfigsDir() / "initos.toml"), "initos.toml");
  ASSERT_TRUE(p.problems.empty()) << Joined(p.problems);
  Config defaults;
  FillSignalDefaults(defaults.init);
  EXPECT_EQ(p.config, defaults) << "configs/initos.toml must document the defaults exactly";
}

// Every key of the table is written as `leaf = default` in its section (or is
// the section header, for table keys), and the comment block above it states
// the key's kernel command-line rule, so the docs cannot drift from the table.
TEST(ShippedConfigsTest, ReferenceConfigDocumentsEveryKey) {
  std::string text = ReadConfig(ConfigsDir() / "initos.toml");
  std::map<std::string, std::string> comment_of;  // key → comment block above it
  std::string section, comment;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("#")) {
      comment += line + "\n";
    } else if (line.starts_with("[") && line.find(']') != std::string::npos) {
      section = line.substr(1, line.find(']') - 1);
      comment_of[section] = comment;
      comment.clear();
    } else if (size_t eq = line.find(" ="); eq != std::string::npos) {
      comment_of[section + "." + line.substr(0, eq)] = comment;
      comment.clear();
    }
  }
  auto keys = ConfigKeys();
  EXPECT_GE(keys.size(), 26u);
  for (const auto& k : keys) {
    auto it = comment_of.find(std::string(k.name));
    ASSERT_NE(it, comment_of.end()) << k.name << " missing in configs/initos.toml";
    std::string rule = k.cmdline == "listable"      ? "cmdline: listable"
                       : k.cmdline == "never"       ? "cmdline: NEVER"
                       : k.cmdline == "signed only" ? "cmdline: NO, signed config only"
                                                    : "cmdline: may only RAISE";
    EXPECT_NE(it->second.find(rule), std::string::npos)
        << k.name << ": its comment in configs/initos.toml must say \"" << rule << "\"";
    EXPECT_NE(it->second.find("Default"), std::string::npos)
        << k.name << " has no default documented";
    EXPECT_FALSE(k.doc.empty()) << k.name;
  }
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// Random byte edits of the reference config and a random command line must
// never crash or throw, and every problem must carry a file and a message.
TEST(ConfigRobustnessTest, MutatedInputsNeverCrash) {
  std::string base = ReadConfig(ConfigsDir() / "initos.toml");
  ASSERT_FALSE(base.empty());
  const std::string alphabet = "=[]\"',.#\n -_0123456789abcdefghijklmnopqrstuvwxyz\\{}";
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xffffff; };
  size_t with_problems = 0;
  for (int round = 0; round < 400; ++round) {
    std::string text = base;
    std::string cmdline = "initos.init.main=/x initos.";
    for (int edits = 1 + next() % 8; edits > 0; --edits) {
      char c = alphabet[next() % alphabet.size()];
      text[next() % text.size()] = c;
      cmdline.push_back(c);
    }
    ParsedConfig p = LoadConfig(text, "initos.toml", cmdline);
    for (const auto& problem : p.problems) {
      EXPECT_FALSE(problem.file.empty());
      EXPECT_FALSE(problem.message.empty());
    }
    with_problems += !p.problems.empty();
  }
  EXPECT_GT(with_problems, 0u);  // the edits did hit something
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// state.persistent and state.allow-exec: plain absolute directories below
// "/", each once, none inside another, allow-exec only from persistent.
TEST(ConfigTest, PersistentDirectoriesAreValidated) {
  auto problem = [](const std::string& toml) {
    ParsedConfig p = ParseConfig("[state]\n" + toml, "f");
    EXPECT_EQ(p.problems.size(), 1u) << Joined(p.problems);
    EXPECT_TRUE(p.problems.empty() || p.problems[0].fatal);
    return p.problems.empty() ? std::string() : p.problems[0].message;
  };
  EXPECT_NE(problem("persistent = [\"/\"]").find("cannot persist"), std::string::npos);
  EXPECT_NE(problem("persistent = [\"var\"]").find("is not absolute"), std::string::npos);
  EXPECT_NE(problem("persistent = [\"/var/\"]").find("empty component"), std::string::npos);
  EXPECT_NE(problem("persistent = [\"/var//lib\"]").find("empty component"), std::string::npos);
  EXPECT_NE(problem("persistent = [\"/var/../etc\"]").find("contains \"..\""), std::string::npos);
  EXPECT_NE(problem("persistent = [\"/my var\"]").find("space, comma"), std::string::npos);
  EXPECT_NE(problem("persistent = [\"/var\", \"/var/lib\"]").find("overlap"), std::string::npos);
  EXPECT_NE(problem("allow-exec = [\"/srv\"]").find("not in state.persistent"), std::string::npos);
  EXPECT_TRUE(ParseConfig("[state]\npersistent = [\"/var\", \"/srv/data\"]\nallow-exec = "
                          "[\"/srv/data\"]\n",
                          "f")
                  .problems.empty());
}

TEST(ConfigTest, BundlePathsArePlain) {
  for (const char* bad : {"LABEL=imgs:os.bundle", "LABEL=imgs:/a/../os.bundle",
                          "LABEL=imgs://os.bundle", "LABEL=imgs:/my os.bundle"}) {
    ParsedConfig p =
        ParseConfig(std::string("[rootfs]\nimage = \"") + bad + "\"\nname = \"x\"\n", "f");
    EXPECT_EQ(p.problems.size(), 1u) << bad << "\n" << Joined(p.problems);
  }
  EXPECT_TRUE(ParseConfig("[rootfs]\nimage = \"LABEL=imgs:/os/v1.bundle\"\nname = \"x\"\n", "f")
                  .problems.empty());
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

constexpr char kSlotsBase[] =
    "[rootfs]\nname = \"os\"\nslots = [\"PARTLABEL=os-a\", \"PARTLABEL=os-b\"]\n"
    "[state]\ndevice = \"PARTLABEL=state\"\n";

TEST(ConfigSlotsTest, SlotsAndTriesParse) {
  ParsedConfig p = LoadConfig(
      "[rootfs]\nname = \"os\"\ntries = 5\nslots = [\"LABEL=imgs:/os/a.bundle\", "
      "\"LABEL=imgs:/os/b.bundle\"]\n[state]\ndevice = \"PARTLABEL=state\"\n",
      "f", "");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.rootfs.slots,
            (std::vector<std::string>{"LABEL=imgs:/os/a.bundle", "LABEL=imgs:/os/b.bundle"}));
  EXPECT_EQ(p.config.rootfs.tries, 5u);
  p = LoadConfig(kSlotsBase, "f", "");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_EQ(p.config.rootfs.tries, 3u);  // the default
}

// Every invalid combination is one fatal problem naming the key.
TEST(ConfigSlotsTest, InvalidSlotsAreFatal) {
  struct Case {
    std::string toml, key, needle;
  } cases[] = {
      {"[rootfs]\nname = \"os\"\nslots = [\"PARTLABEL=os-a\"]\n[state]\ndevice = "
       "\"PARTLABEL=state\"\n",
       "rootfs.slots", "list exactly two"},
      {"[rootfs]\nname = \"os\"\nslots = [\"PARTLABEL=a\", \"PARTLABEL=b\", \"PARTLABEL=c\"]\n"
       "[state]\ndevice = \"PARTLABEL=state\"\n",
       "rootfs.slots", "list exactly two"},
      {"[rootfs]\nname = \"os\"\nslots = [\"PARTLABEL=os-a\", \"/dev/vdb\"]\n[state]\ndevice = "
       "\"PARTLABEL=state\"\n",
       "rootfs.slots", "slot b: invalid image"},
      {"[rootfs]\nname = \"os\"\nslots = [\"\", \"PARTLABEL=os-b\"]\n[state]\ndevice = "
       "\"PARTLABEL=state\"\n",
       "rootfs.slots", "slot a is empty"},
      {"[rootfs]\nname = \"os\"\nslots = [\"PARTLABEL=os\", \"PARTLABEL=os\"]\n[state]\ndevice = "
       "\"PARTLABEL=state\"\n",
       "rootfs.slots", "both slots"},
      {"[rootfs]\nname = \"os\"\nimage = \"PARTLABEL=root\"\nslots = [\"PARTLABEL=os-a\", "
       "\"PARTLABEL=os-b\"]\n[state]\ndevice = \"PARTLABEL=state\"\n",
       "rootfs.slots", "both set"},
      {"[rootfs]\nname = \"os\"\nslots = [\"PARTLABEL=os-a\", \"PARTLABEL=os-b\"]\n",
       "rootfs.slots", "needs a state partition"},
      {"[rootfs]\nslots = [\"PARTLABEL=os-a\", \"PARTLABEL=os-b\"]\n[state]\ndevice = "
       "\"PARTLABEL=state\"\n",
       "rootfs.name", "rootfs.slots is set but rootfs.name is not"},
      {std::string(kSlotsBase).replace(std::string(kSlotsBase).find("[state]"), 0, "tries = 0\n"),
       "rootfs.tries", ""},
      {std::string(kSlotsBase).replace(std::string(kSlotsBase).find("[state]"), 0, "tries = 101\n"),
       "rootfs.tries", ""},
  };
  for (const Case& c : cases) {
    ParsedConfig p = LoadConfig(c.toml, "initos.toml", "");
    ASSERT_EQ(p.problems.size(), 1u) << c.toml << Joined(p.problems);
    EXPECT_EQ(p.problems[0].key, c.key) << c.toml;
    EXPECT_TRUE(p.problems[0].fatal) << c.toml;
    EXPECT_NE(p.problems[0].message.find(c.needle), std::string::npos)
        << c.toml << p.problems[0].message;
  }
}

// Slots choose what boots: never from the kernel command line, not even in
// development mode.
TEST(ConfigSlotsTest, SignedOnly) {
  for (const char* cmdline :
       {"initos.rootfs.slots=PARTLABEL=x,PARTLABEL=y", "initos.rootfs.tries=50"}) {
    ParsedConfig p = LoadConfig(
        "[rootfs]\nname = \"os\"\ninsecure-dev-mode = true\nslots = [\"PARTLABEL=os-a\", "
        "\"PARTLABEL=os-b\"]\n[state]\ndevice = \"PARTLABEL=state\"\n",
        "f", cmdline);
    ASSERT_EQ(p.problems.size(), 1u) << cmdline << Joined(p.problems);
    EXPECT_NE(p.problems[0].message.find("signed config"), std::string::npos);
    EXPECT_EQ(p.config.rootfs.slots,
              (std::vector<std::string>{"PARTLABEL=os-a", "PARTLABEL=os-b"}));
    EXPECT_EQ(p.config.rootfs.tries, 3u);
  }
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

TEST(ConfigSlotsTest, AnEmptyListMeansNoSlots) {
  ParsedConfig p = LoadConfig("[rootfs]\nslots = []\n", "f", "");
  EXPECT_TRUE(p.problems.empty()) << Joined(p.problems);
  EXPECT_TRUE(p.config.rootfs.slots.empty());
}

}  // namespace
}  // namespace initos
