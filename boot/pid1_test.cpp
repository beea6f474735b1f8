// `initos init` run as an ordinary process (not PID 1): the whole stage list,
// supervisor and shutdown, with the host left alone.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/file.h"

namespace {

class Pid1Binary : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/initos-pid1-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    (void)!::system(cmd.c_str());
  }
  // Runs `initos init --config CONFIG`, returns stdout+stderr.
  std::string Boot(const std::string& config, int* status) {
    std::string path = dir_ + "/initos.toml";
    EXPECT_TRUE(initos::WriteStringToFile(path, config).ok());
    std::string cmd =
        std::string(INITOS_BINARY) + " init --config " + path + " --cmdline '' 2>&1 </dev/null";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[1024];
    while (p && std::fgets(buf, sizeof(buf), p)) out += buf;
    *status = p ? ::pclose(p) : -1;
    return out;
  }
  std::string dir_;
};

bool Has(const std::string& out, const std::string& what) {
  return out.find(what) != std::string::npos;
}

TEST_F(Pid1Binary, RunsMainThenPowersOff) {
  int st = 0;
  std::string out = Boot(
      "[init]\n"
      "main = [\"/bin/sh\", \"-c\", \"echo main-ran $TERM; (sleep 0.2 &); exit 3\"]\n"
      "on-exit = \"poweroff\"\n",
      &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  for (const char* want :
       {"stage early done t=", "stage config done t=", "starting main: /bin/sh t=",
        "main-ran linux", "exited with status 3", "shutdown: poweroff"}) {
    EXPECT_TRUE(Has(out, want)) << want << "\n" << out;
  }
}

TEST_F(Pid1Binary, BrokenConfigStillEndsInPoweroff) {
  int st = 0;
  std::string out = Boot(
      "[init]\n"
      "main = [\"/bin/sh\", \"-c\", \"echo main-ran\"]\n"
      "on-exit = \"explode\"\n",
      &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  EXPECT_TRUE(Has(out, "stage config failed t=")) << out;
  EXPECT_TRUE(Has(out, "on-exit")) << out;
  EXPECT_TRUE(Has(out, "shutdown: poweroff")) << out;
}

TEST_F(Pid1Binary, BrokenMainFallsToEmergencyShell) {
  int st = 0;
  std::string out = Boot(
      "[init]\n"
      "main = [\"/nonexistent/app\"]\n"
      "on-exit = \"shell\"\n"
      "allow-shell = true\n"
      "shell = [\"/bin/sh\", \"-c\", \"echo emergency-shell-ran\"]\n",
      &st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  EXPECT_TRUE(Has(out, "cannot start main program /nonexistent/app")) << out;
  EXPECT_TRUE(Has(out, "emergency-shell-ran")) << out;
  EXPECT_TRUE(Has(out, "shutdown: poweroff")) << out;
}

TEST_F(Pid1Binary, ShellRefusedWhenNotAllowed) {
  int st = 0;
  std::string out = Boot(
      "[init]\n"
      "main = [\"/bin/sh\", \"-c\", \"exit 1\"]\n"
      "on-exit = \"shell\"\n",
      &st);
  EXPECT_TRUE(Has(out, "not allowed")) << out;
  EXPECT_TRUE(Has(out, "shutdown: poweroff")) << out;
}

TEST_F(Pid1Binary, UnknownArgumentIsAnError) {
  int st = 0;
  std::string cmd = std::string(INITOS_BINARY) + " init --frobnicate 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && std::fgets(buf, sizeof(buf), p)) out += buf;
  st = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  EXPECT_TRUE(Has(out, "--frobnicate")) << out;
}

}  // namespace
