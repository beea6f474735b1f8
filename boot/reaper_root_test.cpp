// Runs the real `initos reap` binary: as PID 1 of a fresh PID namespace (via
// util-linux unshare) for the reaping tests, and directly for signals, exit
// codes and the subreaper mode. Child programs are busybox sh scripts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/file.h"
#include "base/spawn.h"
#include "base/unique_fd.h"

extern char** environ;

namespace initos {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBusybox = "/bin/busybox";

struct Outcome {
  int code = -1;  // exit code, 128+N when killed, -1 on timeout
  std::string out, err;
};

class ReaperRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access(kBusybox, X_OK) != 0) GTEST_SKIP() << "needs " << kBusybox;
    char tmpl[] = "/tmp/initos-reaper-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  // Starts `argv` with stdout/stderr in files and D=<temp dir> plus `env`.
  void Start(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
             std::optional<ChildSignals> signals = std::nullopt) {
    auto out = OpenFile(dir_ + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto err = OpenFile(dir_ + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(out.ok() && err.ok());
    SpawnOptions o;
    o.argv = argv;
    std::vector<std::string> e;
    for (char** p = environ; *p; ++p) {
      if (std::string(*p).rfind("TINI_", 0) != 0) e.push_back(*p);
    }
    e.push_back("D=" + dir_);
    e.insert(e.end(), env.begin(), env.end());
    o.env = e;
    o.stdout_fd = out->get();
    o.stderr_fd = err->get();
    o.signals = std::move(signals);
    auto pid = Spawn(o);
    ASSERT_TRUE(pid.ok()) << pid.error().str();
    pid_ = *pid;
  }

  // `initos reap ARGS...`
  void StartReaper(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {INITOS_BINARY, "reap"};
    argv.insert(argv.end(), args.begin(), args.end());
    Start(argv, env);
  }

  // The reaper as PID 1 of a new PID namespace with its own /proc.
  void StartReaperAsPid1(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"unshare",      "--pid",       "--fork", "--mount-proc",
                                     "--kill-child", INITOS_BINARY, "reap"};
    argv.insert(argv.end(), args.begin(), args.end());
    Start(argv);
  }

  Outcome Wait(std::chrono::milliseconds timeout) {
    Outcome r;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
      pid_t p = ::waitpid(pid_, &status, WNOHANG);
      if (p == pid_) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        status = -1;
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    if (status == -1) {
      r.code = -1;
    } else if (WIFEXITED(status)) {
      r.code = WEXITSTATUS(status);
    } else {
      r.code = 128 + WTERMSIG(status);
    }
    r.out = Read("stdout");
    r.err = Read("stderr");
    return r;
  }

  Outcome RunReaper(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                    std::chrono::milliseconds timeout = 10s) {
    StartReaper(args, env);
    return Wait(timeout);
  }

  bool WaitForFile(const std::string& name, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::access((dir_ + "/" + name).c_str(), F_OK) != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  std::string Read(const std::string& name) {
    auto r = ReadFileToString(dir_ + "/" + name);
    return r.ok() ? *r : "<missing>";
  }

  static size_t Count(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
      ++n;
    return n;
  }

  std::string dir_;
  pid_t pid_ = -1;
};

// Makes BATCHES x PER orphans: a throwaway shell forks PER subshells that
// block reading a fifo and exits, so they are re-parented to PID 1; closing
// the fifo's only writer then makes the whole batch exit at once. With
// EXIT_NOW set the script exits with it right after the last storm;
// otherwise it waits until no process but itself has PPid 1 (all orphans
// reaped) and fails counting the leftovers (zombies) after 15 s.
constexpr const char kOrphanScript[] = R"SH(
cd "$D"
batch=0
while [ $batch -lt $BATCHES ]; do
  rm -f f; mkfifo f
  exec 3<>f
  /bin/busybox sh -c 'i=0; while [ $i -lt $PER ]; do (read x <&4) & i=$((i+1)); done' 4<f 3>&-
  exec 3>&-
  batch=$((batch+1))
done
[ -n "$EXIT_NOW" ] && exit $EXIT_NOW
end=$(($(date +%s) + 15))
while :; do
  left=$(grep -l "^PPid:[[:space:]]*1\$" /proc/[0-9]*/status 2>/dev/null | grep -vc "^/proc/$$/")
  [ "$left" = 0 ] && break
  if [ "$(date +%s)" -ge $end ]; then
    echo "orphans left: $left zombies: $(grep -l '^State:[[:space:]]*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
    exit 1
  fi
  sleep 0.1
done
echo "all orphans reaped"
)SH";

TEST_F(ReaperRootTest, Pid1ReapsTenThousandOrphans) {
  ASSERT_TRUE(WriteStringToFile(dir_ + "/orphans.sh", kOrphanScript).ok());
  auto start = std::chrono::steady_clock::now();
  // -w makes the reaper report every orphan it reaps.
  std::vector<std::string> args = {"-w",       "--",     "/usr/bin/env", "BATCHES=5",
                                   "PER=2000", kBusybox, "sh",           dir_ + "/orphans.sh"};
  StartReaperAsPid1(args);
  Outcome r = Wait(60s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.code, 0) << r.out << r.err.substr(0, 2000);
  EXPECT_EQ(r.out, "all orphans reaped\n");
  EXPECT_EQ(Count(r.err, "Reaped zombie process with pid="), 10000u);
  EXPECT_EQ(Count(r.err, "[WARN  tini (1)]"), 10000u) << "reaper must run as PID 1, no warning";
  std::printf("10000 orphans reaped in %.2f s\n", secs);
}

TEST_F(ReaperRootTest, MainChildExitSeenDuringSigchldStorm) {
  ASSERT_TRUE(WriteStringToFile(dir_ + "/orphans.sh", kOrphanScript).ok());
  StartReaperAsPid1({"--", "/usr/bin/env", "BATCHES=1", "PER=3000", "EXIT_NOW=7", kBusybox, "sh",
                     dir_ + "/orphans.sh"});
  Outcome r = Wait(30s);
  EXPECT_EQ(r.code, 7) << r.err;
}

TEST_F(ReaperRootTest, ForwardsSignalsToChild) {
  StartReaper({"-s", "--", kBusybox, "sh", "-c",
               "trap 'echo usr1 >> $D/log' USR1\n"
               "trap 'echo term >> $D/log; exit 42' TERM\n"
               "touch $D/ready\n"
               "while :; do sleep 0.02; done"});
  ASSERT_TRUE(WaitForFile("ready"));
  ASSERT_EQ(::kill(pid_, SIGUSR1), 0);
  ASSERT_TRUE(WaitForFile("log"));
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  Outcome r = Wait(10s);
  EXPECT_EQ(r.code, 42) << r.err;
  EXPECT_EQ(Read("log"), "usr1\nterm\n");
}

// The child starts a grandchild in its process group; both trap USR1. The
// child exits 0 once the grandchild got the signal, 9 when it did not.
constexpr const char kGroupScript[] =
    "/bin/busybox sh -c 'trap \"touch $D/grandchild; exit 0\" USR1; touch $D/gready;"
    " while :; do sleep 0.02; done' &\n"
    "g=$!\n"
    "trap 'touch $D/child' USR1\n"
    "while [ ! -e $D/gready ]; do sleep 0.02; done\n"
    "touch $D/ready\n"
    "i=0\n"
    "while [ ! -e $D/grandchild ] && [ $i -lt 50 ]; do sleep 0.02; i=$((i+1)); done\n"
    "kill $g 2>/dev/null\n"
    "[ -e $D/grandchild ] && exit 0\n"
    "exit 9\n";

TEST_F(ReaperRootTest, DashGSignalsTheWholeGroup) {
  StartReaper({"-s", "-g", "--", kBusybox, "sh", "-c", kGroupScript});
  ASSERT_TRUE(WaitForFile("ready"));
  ASSERT_EQ(::kill(pid_, SIGUSR1), 0);
  Outcome r = Wait(10s);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(::access((dir_ + "/child").c_str(), F_OK), 0);
  EXPECT_EQ(::access((dir_ + "/grandchild").c_str(), F_OK), 0);
}

TEST_F(ReaperRootTest, WithoutDashGOnlyTheChildIsSignalled) {
  StartReaper({"-s", "--", kBusybox, "sh", "-c", kGroupScript});
  ASSERT_TRUE(WaitForFile("ready"));
  ASSERT_EQ(::kill(pid_, SIGUSR1), 0);
  Outcome r = Wait(10s);
  EXPECT_EQ(r.code, 9) << r.err;
  EXPECT_EQ(::access((dir_ + "/child").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir_ + "/grandchild").c_str(), F_OK), 0);
}

TEST_F(ReaperRootTest, KillProcessGroupFromEnvironment) {
  StartReaper({"-s", "--", kBusybox, "sh", "-c", kGroupScript}, {"TINI_KILL_PROCESS_GROUP=1"});
  ASSERT_TRUE(WaitForFile("ready"));
  ASSERT_EQ(::kill(pid_, SIGUSR1), 0);
  Outcome r = Wait(10s);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(ReaperRootTest, ExitCodes) {
  EXPECT_EQ(RunReaper({"-s", "--", kBusybox, "sh", "-c", "exit 3"}).code, 3);
  EXPECT_EQ(RunReaper({"-s", "--", kBusybox, "sh", "-c", "kill -KILL $$"}).code, 137);
  EXPECT_EQ(RunReaper({"-s", "-e", "3", "--", kBusybox, "sh", "-c", "exit 3"}).code, 0);
  EXPECT_EQ(RunReaper({"-s", "-e", "3", "--", kBusybox, "sh", "-c", "exit 4"}).code, 4);
  EXPECT_EQ(RunReaper({"-s", "-e", "137", "--", kBusybox, "sh", "-c", "kill -KILL $$"}).code, 0);

  Outcome missing = RunReaper({"-s", "--", dir_ + "/no-such-program"});
  EXPECT_EQ(missing.code, 127);
  EXPECT_NE(missing.err.find("exec " + dir_ + "/no-such-program failed"), std::string::npos)
      << missing.err;

  ASSERT_TRUE(WriteStringToFile(dir_ + "/noexec", "#!/bin/sh\nexit 0\n", 0644).ok());
  Outcome noexec = RunReaper({"-s", "--", dir_ + "/noexec"});
  EXPECT_EQ(noexec.code, 126);
  EXPECT_NE(noexec.err.find("Permission denied"), std::string::npos) << noexec.err;

  Outcome bad = RunReaper({"-x", "--", "true"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("unknown option -x"), std::string::npos) << bad.err;
  EXPECT_EQ(RunReaper({}).code, 1);
  Outcome help = RunReaper({"-h"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("-e EXIT_CODE"), std::string::npos);
}

// The child makes an orphan (a sleep whose parent shell exits), reports the
// orphan's PPid, kills it and waits for it to be reaped.
constexpr const char kSubreaperScript[] =
    "/bin/busybox sh -c 'sleep 30 & echo $! > $D/orphan'\n"
    "p=$(cat $D/orphan)\n"
    "grep '^PPid:' /proc/$p/status | cut -f2 > $D/orphan_ppid\n"
    "echo $PPID > $D/reaper_pid\n"
    "kill $p\n"
    "[ \"$(cat $D/orphan_ppid)\" = \"$PPID\" ] || exit 9\n"
    "i=0\n"
    "while [ -e /proc/$p ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i+1)); done\n"
    "[ -e /proc/$p ] && exit 8\n"
    "exit 0\n";

TEST_F(ReaperRootTest, SubreaperAdoptsAndReapsOrphansWhenNotPid1) {
  Outcome r = RunReaper({"-s", "-w", "--", kBusybox, "sh", "-c", kSubreaperScript});
  EXPECT_EQ(r.code, 0) << r.err;
  std::string orphan = Read("orphan");
  while (!orphan.empty() && orphan.back() == '\n') orphan.pop_back();
  EXPECT_EQ(Read("orphan_ppid"), Read("reaper_pid"));
  EXPECT_NE(r.err.find("Reaped zombie process with pid=" + orphan + "\n"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("not running as PID 1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("isn't registered as a child subreaper"), std::string::npos) << r.err;

  // TINI_SUBREAPER does the same.
  EXPECT_EQ(RunReaper({"--", kBusybox, "sh", "-c", kSubreaperScript}, {"TINI_SUBREAPER="}).code, 0);
}

TEST_F(ReaperRootTest, WithoutSubreaperOrphansEscapeAndItWarns) {
  Outcome r = RunReaper({"--", kBusybox, "sh", "-c", kSubreaperScript});
  EXPECT_EQ(r.code, 9) << r.err;  // the orphan was re-parented elsewhere
  // tini's own wording, each line ending in a newline.
  EXPECT_NE(r.err.find("] Tini is not running as PID 1 and isn't registered as a child "
                       "subreaper.\nZombie processes will not be re-parented to Tini, so zombie "
                       "reaping won't work.\nTo fix the problem, use the -s option or set the "
                       "environment variable TINI_SUBREAPER to register Tini as a child "
                       "subreaper, or run Tini as PID 1.\n"),
            std::string::npos)
      << r.err;
}

// As with tini, the child gets the signal mask and the ignored signals the
// reaper inherited (a caller ignoring SIGPIPE keeps it ignored), not a fresh
// state.
TEST_F(ReaperRootTest, ChildInheritsTheCallersMaskAndIgnoredSignals) {
  // The reaper itself unblocks the faults, collects everything else and
  // ignores SIGTTIN/SIGTTOU: none of that may reach the child.
  ChildSignals given;
  sigemptyset(&given.mask);
  for (int sig : {SIGTTIN, SIGILL, SIGTERM}) sigaddset(&given.mask, sig);
  given.ignored = {SIGTTOU, SIGSEGV, SIGINT};
  // Every other signal SIG_DFL, whatever this test process ignores by now
  // (an earlier test may have left SIGPIPE ignored): ChildSignals changes
  // only what it lists.
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGTTOU && sig != SIGSEGV && sig != SIGINT) given.defaulted.push_back(sig);
  Start({INITOS_BINARY, "reap", "--", kBusybox, "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"},
        {}, given);
  Outcome r = Wait(10s);
  ASSERT_EQ(r.code, 0) << r.err;
  auto mask_of = [&r](const std::string& field) -> unsigned long long {
    size_t at = r.out.find(field + ":\t");
    return at == std::string::npos ? 0
                                   : std::stoull(r.out.substr(at + field.size() + 2), nullptr, 16);
  };
  auto bit = [](int sig) { return 1ull << (sig - 1); };
  const unsigned long long blocked = mask_of("SigBlk"), ignored = mask_of("SigIgn");
  EXPECT_EQ(blocked, bit(SIGTTIN) | bit(SIGILL) | bit(SIGTERM)) << r.out;
  EXPECT_EQ(ignored, bit(SIGTTOU) | bit(SIGSEGV) | bit(SIGINT)) << r.out;
}

TEST_F(ReaperRootTest, ParentDeathSignalIsForwarded) {
  // A middle process runs the reaper with -p SIGUSR1 and is then killed: the
  // reaper gets SIGUSR1 and forwards it to its child.
  Start({kBusybox, "sh", "-c",
         std::string(INITOS_BINARY) +
             " reap -s -p SIGUSR1 -- /bin/busybox sh -c "
             "'trap \"touch $D/pdeath; exit 0\" USR1; touch $D/ready; "
             "i=0; while [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done' & "
             "echo $! > $D/reaper; wait"});
  ASSERT_TRUE(WaitForFile("ready"));
  ASSERT_EQ(::kill(pid_, SIGKILL), 0);
  Wait(5s);
  EXPECT_TRUE(WaitForFile("pdeath", 5s));
}

TEST_F(ReaperRootTest, InvokedAsTini) {
  std::string tini = dir_ + "/tini";
  ASSERT_EQ(::symlink(INITOS_BINARY, tini.c_str()), 0);
  Start({tini, "-s", "--", kBusybox, "sh", "-c", "exit 3"});
  EXPECT_EQ(Wait(10s).code, 3);
  Start({tini, "--version"});
  Outcome v = Wait(10s);
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("tini version ", 0), 0u) << v.out;
  Start({tini, "-h"});
  EXPECT_EQ(Wait(10s).out.rfind("tini ", 0), 0u);
}

// With a terminal on stdin the child gets its own process group and the
// terminal's foreground (like tini), so ^C reaches it and not the reaper.
TEST_F(ReaperRootTest, ChildGetsForegroundOfTerminal) {
  unique_fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(master.ok());
  ASSERT_EQ(::grantpt(master.get()), 0);
  ASSERT_EQ(::unlockpt(master.get()), 0);
  auto slave = OpenFile(::ptsname(master.get()), O_RDWR | O_NOCTTY);
  ASSERT_TRUE(slave.ok()) << slave.error().str();

  // The reaper leads a new session whose controlling terminal is the pty;
  // its child, cat, prints its own pid, pgrp and the terminal's foreground.
  auto out = OpenFile(dir_ + "/stat", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_TRUE(out.ok());
  SpawnOptions o;
  o.argv = {INITOS_BINARY, "reap", "-s", "--", "cat", "/proc/self/stat"};
  o.new_session = true;
  o.controlling_tty = true;
  o.stdin_fd = slave->get();
  o.stdout_fd = out->get();
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  pid_ = *pid;
  Outcome r = Wait(10s);
  ASSERT_EQ(r.code, 0) << r.err;

  // "pid (cat) state ppid pgrp session tty_nr tpgid ..."
  std::string stat = Read("stat");
  ASSERT_NE(stat.rfind(')'), std::string::npos) << stat;
  long cat_pid = std::strtol(stat.c_str(), nullptr, 10);
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string state;
  long ppid = 0, pgrp = 0, session = 0, tty = 0, tpgid = 0;
  in >> state >> ppid >> pgrp >> session >> tty >> tpgid;
  EXPECT_EQ(ppid, static_cast<long>(*pid));
  EXPECT_EQ(session, static_cast<long>(*pid));  // Spawn's new_session + controlling tty
  EXPECT_NE(tty, 0);
  EXPECT_EQ(pgrp, cat_pid);   // own process group
  EXPECT_EQ(tpgid, cat_pid);  // ... in the foreground
}

}  // namespace
}  // namespace initos
