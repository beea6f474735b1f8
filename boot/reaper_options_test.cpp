#include "boot/reaper_options.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

namespace initos {
namespace {

using Args = std::vector<std::string>;
using Env = std::map<std::string, std::string>;
using Action = ReaperOptions::Action;

ReaperOptions MustParse(const Args& args, const Env& env = {}) {
  auto r = ParseReaperOptions(args, env);
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : ReaperOptions{};
}

std::string ParseError(const Args& args, const Env& env = {}) {
  auto r = ParseReaperOptions(args, env);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().str();
}

TEST(ReaperOptionsTest, DefaultsWithCommandOnly) {
  ReaperOptions o = MustParse({"--", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(o.action, Action::kRun);
  EXPECT_FALSE(o.subreaper);
  EXPECT_FALSE(o.kill_process_group);
  EXPECT_FALSE(o.warn_on_reap);
  EXPECT_EQ(o.parent_death_signal, 0);
  EXPECT_EQ(o.verbosity, 1);
  EXPECT_TRUE(o.remap_to_zero.none());
  EXPECT_EQ(o.command, (Args{"/bin/sh", "-c", "exit 3"}));
}

TEST(ReaperOptionsTest, AllOptionsSeparateAndClustered) {
  ReaperOptions o = MustParse(
      {"-s", "-g", "-w", "-v", "-v", "-p", "SIGKILL", "-e", "3", "-e", "143", "--", "prog", "-s"});
  EXPECT_TRUE(o.subreaper);
  EXPECT_TRUE(o.kill_process_group);
  EXPECT_TRUE(o.warn_on_reap);
  EXPECT_EQ(o.verbosity, 3);
  EXPECT_EQ(o.parent_death_signal, SIGKILL);
  EXPECT_TRUE(o.remap_to_zero.test(3));
  EXPECT_TRUE(o.remap_to_zero.test(143));
  EXPECT_EQ(o.remap_to_zero.count(), 2u);
  EXPECT_EQ(o.command, (Args{"prog", "-s"}));

  ReaperOptions c = MustParse({"-sgvvv", "-pTERM", "-e0", "prog"});
  EXPECT_TRUE(c.subreaper);
  EXPECT_TRUE(c.kill_process_group);
  EXPECT_EQ(c.verbosity, 4);
  EXPECT_EQ(c.parent_death_signal, SIGTERM);
  EXPECT_TRUE(c.remap_to_zero.test(0));
  EXPECT_EQ(c.command, (Args{"prog"}));

  // The value may follow inside a cluster, getopt style.
  ReaperOptions d = MustParse({"-gp", "9", "prog"});
  EXPECT_TRUE(d.kill_process_group);
  EXPECT_EQ(d.parent_death_signal, 9);
}

TEST(ReaperOptionsTest, OptionsEndAtFirstProgramArgument) {
  ReaperOptions o = MustParse({"-s", "prog", "-g", "--", "x"});
  EXPECT_FALSE(o.kill_process_group);
  EXPECT_EQ(o.command, (Args{"prog", "-g", "--", "x"}));
  // "-" alone is a program argument, not an option.
  EXPECT_EQ(MustParse({"-"}).command, (Args{"-"}));
}

TEST(ReaperOptionsTest, HelpVersionLicense) {
  EXPECT_EQ(MustParse({"-h"}).action, Action::kHelp);
  EXPECT_EQ(MustParse({"-s", "-h", "-x"}).action, Action::kHelp);  // acted on when seen
  EXPECT_EQ(MustParse({"--help"}).action, Action::kHelp);
  EXPECT_EQ(MustParse({"--version"}).action, Action::kVersion);
  EXPECT_EQ(MustParse({"-l"}).action, Action::kLicense);
  // Like tini, --version counts only as the sole argument.
  EXPECT_NE(ParseError({"--version", "prog"}).find("--version"), std::string::npos);
}

TEST(ReaperOptionsTest, EnvironmentVariables) {
  ReaperOptions o = MustParse({"prog"}, {{"TINI_SUBREAPER", ""},
                                         {"TINI_KILL_PROCESS_GROUP", "1"},
                                         {"TINI_VERBOSITY", "3"},
                                         {"UNRELATED", "x"}});
  EXPECT_TRUE(o.subreaper);
  EXPECT_TRUE(o.kill_process_group);
  EXPECT_EQ(o.verbosity, 3);
  // TINI_VERBOSITY replaces the level set by -v, as in tini.
  EXPECT_EQ(MustParse({"-vvv", "prog"}, {{"TINI_VERBOSITY", "0"}}).verbosity, 0);
  EXPECT_NE(ParseError({"prog"}, {{"TINI_VERBOSITY", "loud"}}).find("TINI_VERBOSITY"),
            std::string::npos);
}

TEST(ReaperOptionsTest, BadOptionsNameTheProblem) {
  EXPECT_NE(ParseError({"-x", "prog"}).find("-x"), std::string::npos);
  EXPECT_NE(ParseError({"--frobnicate", "prog"}).find("--frobnicate"), std::string::npos);
  EXPECT_NE(ParseError({"-p", "SIGNOPE", "prog"}).find("SIGNOPE"), std::string::npos);
  EXPECT_NE(ParseError({"-p", "0", "prog"}).find("-p"), std::string::npos);
  EXPECT_NE(ParseError({"-e", "256", "prog"}).find("256"), std::string::npos);
  EXPECT_NE(ParseError({"-e", "-1", "prog"}).find("-e"), std::string::npos);
  EXPECT_NE(ParseError({"-e", "3x", "prog"}).find("3x"), std::string::npos);
  EXPECT_NE(ParseError({"-e"}).find("needs a value"), std::string::npos);
  EXPECT_NE(ParseError({"-sp"}).find("needs a value"), std::string::npos);
}

TEST(ReaperOptionsTest, MissingCommand) {
  EXPECT_NE(ParseError({}).find("no program"), std::string::npos);
  EXPECT_NE(ParseError({"-s", "--"}).find("no program"), std::string::npos);
  EXPECT_NE(ParseError({"-s", "-g"}).find("no program"), std::string::npos);
}

TEST(ReaperOptionsTest, SignalNames) {
  EXPECT_EQ(ParseSignal("SIGKILL"), SIGKILL);
  EXPECT_EQ(ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(ParseSignal("SIGUSR2"), SIGUSR2);
  EXPECT_EQ(ParseSignal("15"), 15);
  EXPECT_EQ(ParseSignal("sigkill"), std::nullopt);
  EXPECT_EQ(ParseSignal("SIG"), std::nullopt);
  EXPECT_EQ(ParseSignal("65"), std::nullopt);
  EXPECT_EQ(ParseSignal(""), std::nullopt);
}

TEST(ReaperOptionsTest, ExitCodes) {
  std::bitset<256> none;
  EXPECT_EQ(ReaperExitCode(3 << 8, none), 3);     // exited 3
  EXPECT_EQ(ReaperExitCode(SIGKILL, none), 137);  // killed by SIGKILL
  EXPECT_EQ(ReaperExitCode(SIGTERM, none), 143);
  std::bitset<256> remap;
  remap.set(3);
  remap.set(143);
  EXPECT_EQ(ReaperExitCode(3 << 8, remap), 0);
  EXPECT_EQ(ReaperExitCode(4 << 8, remap), 4);
  EXPECT_EQ(ReaperExitCode(SIGTERM, remap), 0);
  EXPECT_EQ(ExecFailureExitCode(ENOENT), 127);
  EXPECT_EQ(ExecFailureExitCode(EACCES), 126);
  EXPECT_EQ(ExecFailureExitCode(E2BIG), 1);
}

TEST(ReaperOptionsTest, UsageListsEveryOption) {
  std::string u = ReaperUsage("tini");
  for (const char* opt : {"--version", "-h", "-s", "-p SIGNAL", "-v", "-w", "-g", "-e EXIT_CODE",
                          "-l", "TINI_SUBREAPER", "TINI_KILL_PROCESS_GROUP", "TINI_VERBOSITY"}) {
    EXPECT_NE(u.find(opt), std::string::npos) << opt;
  }
}

}  // namespace
}  // namespace initos
