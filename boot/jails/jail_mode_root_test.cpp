// `initos jail run` with a busybox directory rootfs, driven through the real
// control socket: list, exec into the jail's view, the restart policy after
// the app is killed, stop, the SO_PEERCRED rules (a user outside the read
// group refused, a member may list but not exec), and no process left
// after SIGTERM. Needs cgroup2 (the QEMU guest has it; this host may not).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "base/file.h"
#include "base/testing/require.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
using testutil::RunProgram;
using testutil::TempDir;

constexpr gid_t kReadGroup = 4242;
constexpr uid_t kNobody = 65534;

bool HaveCgroup2() {
  struct statfs st {};
  return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == 0x63677270;  // CGROUP2_SUPER_MAGIC
}

void BusyboxRoot(const std::string& root) {
  for (const char* d : {"/bin", "/dev", "/proc", "/sys", "/tmp", "/run", "/etc"})
    fs::create_directories(root + d);
  fs::copy_file("/bin/busybox", root + "/bin/busybox");
  for (const char* app : {"sh", "sleep", "echo", "kill", "pidof", "id", "hostname", "cat", "ls"})
    fs::create_symlink("busybox", root + "/bin/" + app);
}

// argv as uid/gid `id` with supplementary groups `groups`, output captured.
testutil::RunResult RunAs(uid_t id, std::vector<gid_t> groups,
                          const std::vector<std::string>& argv) {
  TempDir io;
  testutil::RunResult r;
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open((io / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int err = ::open((io / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(id) != 0 || ::setuid(id) != 0)
      ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (auto s = ReadFileToString(io / "out"); s.ok()) r.out = *s;
  if (auto s = ReadFileToString(io / "err"); s.ok()) r.err = *s;
  return r;
}

class JailRunRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "root tests run as root";
    BusyboxRoot(dir_ / "root");
    ::chmod(dir_.path().c_str(), 0755);  // the socket directory below must be reachable
    socket_ = dir_ / "ctl/jails.sock";
    ASSERT_TRUE(WriteStringToFile(
                    dir_ / "jails.toml",
                    "[jails]\nsocket = \"" + socket_ +
                        "\"\nread-group = " + std::to_string(kReadGroup) +
                        "\n[[jail]]\nname = \"box\"\nkind = \"unprivileged\"\nrootfs = \"" +
                        (dir_ / "root") +
                        "\"\nreaper = true\ncommand = [\"/bin/sh\", \"-c\", \"echo hello from "
                        "box; exec sleep 1000\"]\nrestart = \"on-failure\"\n"
                        "restart-delay-ms = 200\n"
                        "[[jail]]\nname = \"talk\"\nrootfs = \"" +
                        (dir_ / "root") +
                        "\"\ncommand = [\"/bin/sh\", \"-c\", \"read line; echo \\\"got "
                        "$line\\\"; exec sleep 1000\"]\n"
                        // sleep as a pid namespace's init ignores SIGTERM:
                        // killed after this, not the default 10 s.
                        "stop-timeout-ms = 500\n")
                    .ok());
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Starts `initos jail run`; its output goes to dir_/run.log.
  void StartRun() {
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir_ / "run.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execl(INITOS_BINARY, "initos", "jail", "run", (dir_ / "jails.toml").c_str(), nullptr);
      ::_exit(127);
    }
  }
  testutil::RunResult Jail(std::vector<std::string> args) {
    args.insert(args.begin(), {INITOS_BINARY, "jail"});
    args.insert(args.begin() + 3, {"--socket", socket_});
    return RunProgram(args);
  }
  std::string Log() {
    auto s = ReadFileToString(dir_ / "run.log");
    return s.ok() ? *s : "";
  }
  // Polls `initos jail ARGS` until its output matches pattern.
  bool JailUntil(const std::vector<std::string>& args, const std::string& pattern,
                 int timeout_s = 20) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      if (std::regex_search(Jail(args).out, std::regex(pattern))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

TEST_F(JailRunRootTest, ControlSocketListExecRestartStopAndPeerCredentials) {
  if (!HaveCgroup2()) INITOS_KERNEL_FEATURE_MISSING() << "/sys/fs/cgroup is not cgroup2";
  StartRun();
  ASSERT_TRUE(JailUntil({"list"}, R"(box +unprivileged +running)")) << Log();
  ASSERT_TRUE(JailUntil({"logs", "box"}, "hello from box")) << Log();

  auto host = Jail({"exec", "box", "--", "hostname"});
  EXPECT_EQ(host.status, 0) << host.err;
  EXPECT_EQ(host.out, "box\n");
  auto uid = Jail({"exec", "box", "--", "id", "-u"});
  EXPECT_EQ(uid.out, "0\n") << uid.err;
  auto status = Jail({"status", "box"});
  EXPECT_TRUE(std::regex_search(status.out, std::regex("uid-map: 0 [1-9][0-9]{5,} 65536")))
      << status.out;

  // Outside the read group: refused. A member: list yes, exec no.
  auto outsider = RunAs(kNobody, {}, {INITOS_BINARY, "jail", "list", "--socket", socket_});
  EXPECT_NE(outsider.status, 0) << outsider.out;
  EXPECT_EQ(outsider.out.find("box"), std::string::npos) << outsider.out;
  auto member = RunAs(kNobody, {kReadGroup}, {INITOS_BINARY, "jail", "list", "--socket", socket_});
  EXPECT_EQ(member.status, 0) << member.err;
  EXPECT_NE(member.out.find("box"), std::string::npos) << member.out;
  auto member_exec = RunAs(kNobody, {kReadGroup},
                           {INITOS_BINARY, "jail", "exec", "--socket", socket_, "box", "--", "id"});
  EXPECT_NE(member_exec.status, 0);
  EXPECT_NE(member_exec.err.find("may only list, status and logs"), std::string::npos)
      << member_exec.err;

  // The app killed: on-failure restarts it after the delay.
  auto kill = Jail({"exec", "box", "--", "/bin/sh", "-c", "kill $(pidof sleep)"});
  // 137: the jail's init ended with the app and the kernel killed the rest
  // of its pid namespace, this exec'd shell included, before it exited.
  EXPECT_TRUE(kill.status == 0 || kill.status == 137) << kill.status << kill.err;
  EXPECT_TRUE(JailUntil({"logs", "box"}, "hello from box[\\s\\S]*hello from box"))
      << Log() << "logs:\n"
      << Jail({"logs", "box"}).out << Jail({"status", "box"}).out;
  EXPECT_TRUE(JailUntil({"list"}, R"(box +unprivileged +running +[0-9]+ +1)")) << Log();
  EXPECT_NE(Log().find("restarting in 200 ms"), std::string::npos) << Log();

  // `logs -f` started before the jail says anything: what it prints later
  // can only have come live.
  pid_t follower = ::fork();
  if (follower == 0) {
    int out = ::open((dir_ / "follow.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::execl(INITOS_BINARY, "initos", "jail", "logs", "-f", "--socket", socket_.c_str(), "talk",
            nullptr);
    ::_exit(127);
  }
  ASSERT_GT(follower, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Jail({"logs", "talk"}).out, "") << "the talk jail printed before it was typed to";

  // The console: what the client types reaches the jail's stdin.
  ASSERT_TRUE(WriteStringToFile(dir_ / "typed", "hello console\n").ok());
  auto console = RunProgram({INITOS_BINARY, "jail", "console", "--socket", socket_, "talk"}, "",
                            dir_ / "typed");
  EXPECT_EQ(console.status, 0) << console.err;
  EXPECT_TRUE(JailUntil({"logs", "talk"}, "got hello console"))
      << Jail({"logs", "talk"}).out << Log() << console.out << console.err;

  std::string followed;
  for (int i = 0; i < 100 && followed.find("got hello console") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto f = ReadFileToString(dir_ / "follow.out");
    followed = f.ok() ? *f : "";
  }
  EXPECT_NE(followed.find("got hello console"), std::string::npos) << followed;
  ::kill(follower, SIGTERM);
  ::waitpid(follower, nullptr, 0);

  auto stop = Jail({"stop", "box"});
  EXPECT_EQ(stop.status, 0) << stop.err;
  EXPECT_TRUE(JailUntil({"list"}, R"(box +unprivileged +stopped)")) << Log();

  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid_, &st, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << Log();
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/initos/box")) << "the jail's cgroup was left behind";
  EXPECT_FALSE(fs::exists(socket_));
}

}  // namespace
}  // namespace initos
