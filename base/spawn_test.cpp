#include "base/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "base/unique_fd.h"

extern char** environ;

namespace initos {
namespace {

struct Outcome {
  std::string out;
  int status = -1;
};

// Spawns with stdout captured through a pipe and waits for the child.
Result<Outcome> RunCaptured(SpawnOptions o) {
  auto f = SpawnAndWait(std::move(o), /*merge_stderr=*/false);
  if (!f.ok()) return f.error();
  return Outcome{f->output, f->wait_status};
}

// Runs `body` in a forked child (it changes process-wide state) and returns
// the child's exit code; gtest assertions inside report through it.
template <typename F>
int InChild(F body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = body();
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

// Value of a "Name:\tvalue" line of /proc/<pid>/status text.
std::string StatusField(const std::string& status, const std::string& name) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      size_t v = line.find_first_not_of(" \t", name.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "<missing>";
}

bool NoChildLeft() {
  errno = 0;
  return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

TEST(SpawnTest, RedirectsStdoutAndReportsExitStatus) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo hello from child; exit 5"};
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "hello from child\n");
  ASSERT_TRUE(WIFEXITED(r->status));
  EXPECT_EQ(WEXITSTATUS(r->status), 5);
}

TEST(SpawnTest, SearchesPathOfGivenEnvironment) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo $INITOS_SPAWN_VAR"};
  o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "INITOS_SPAWN_VAR=from-env"};
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "from-env\n");

  // The same command with a PATH that has no sh must not be found.
  o.env = std::vector<std::string>{"PATH=/nonexistent-dir"};
  auto missing = Spawn(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
}

TEST(SpawnTest, ChangesDirectory) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "pwd"};
  o.cwd = "/proc";
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "/proc\n");

  o.cwd = "/nonexistent-initos-dir";
  auto bad = Spawn(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ENOENT);
  EXPECT_NE(bad.error().message.find("chdir"), std::string::npos) << bad.error().message;
}

TEST(SpawnTest, MissingProgramIsEnoentAndReaped) {
  EXPECT_EQ(
      InChild([] {
        SpawnOptions o;
        o.argv = {"/nonexistent/initos-no-such-program", "arg"};
        auto r = Spawn(o);
        if (r.ok()) return 1;
        if (r.error().code != ENOENT) return 2;
        if (r.error().str().find("exec /nonexistent/initos-no-such-program") == std::string::npos)
          return 3;
        o.argv = {"initos-no-such-program-in-path"};
        r = Spawn(o);
        if (r.ok() || r.error().code != ENOENT) return 4;
        return NoChildLeft() ? 0 : 5;  // the failed children were reaped
      }),
      0);
}

TEST(SpawnTest, NonExecutableIsEacces) {
  char path[] = "/tmp/initos-spawn-noexec-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
  ::close(fd);
  ASSERT_EQ(::chmod(path, 0644), 0);
  SpawnOptions o;
  o.argv = {path};
  auto r = Spawn(o);
  ::unlink(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EACCES) << r.error().str();
}

TEST(SpawnTest, ChildStartsWithDefaultSignals) {
  EXPECT_EQ(InChild([] {
              sigset_t set;
              sigemptyset(&set);
              sigaddset(&set, SIGTERM);
              sigprocmask(SIG_BLOCK, &set, nullptr);
              signal(SIGINT, SIG_IGN);
              signal(SIGUSR1, SIG_IGN);
              // The setup is real: this process shows them blocked/ignored.
              auto self = ReadFileToString("/proc/self/status");
              if (!self.ok()) return 10;
              const unsigned long long term = 1ULL << (SIGTERM - 1);
              const unsigned long long intr = 1ULL << (SIGINT - 1);
              if (!(std::strtoull(StatusField(*self, "SigBlk").c_str(), nullptr, 16) & term))
                return 11;
              if (!(std::strtoull(StatusField(*self, "SigIgn").c_str(), nullptr, 16) & intr))
                return 12;

              SpawnOptions o;
              o.argv = {"cat", "/proc/self/status"};
              auto r = RunCaptured(o);
              if (!r.ok()) return 13;
              if (StatusField(r->out, "SigBlk") != "0000000000000000") return 14;
              if (StatusField(r->out, "SigIgn") != "0000000000000000") return 15;
              return 0;
            }),
            0);
}

// With SpawnOptions::signals the child gets the given mask and only the
// listed dispositions changed; the rest is what exec makes of the caller's
// (handlers reset, SIG_IGN kept), as the reaper needs for tini's behaviour.
TEST(SpawnTest, ChildSignalsSetOnlyWhatIsListed) {
  EXPECT_EQ(InChild([] {
              auto handler = [](int) {};
              signal(SIGUSR1, SIG_IGN);  // not listed: stays ignored across exec
              signal(SIGINT, SIG_IGN);   // listed as defaulted
              signal(SIGUSR2, handler);  // not listed, blocked: exec resets it
              signal(SIGHUP, handler);   // listed as defaulted
              ChildSignals cs;
              sigemptyset(&cs.mask);
              sigaddset(&cs.mask, SIGTERM);
              sigaddset(&cs.mask, SIGUSR2);
              cs.ignored = {SIGQUIT};
              cs.defaulted = {SIGINT, SIGHUP};
              SpawnOptions o;
              o.argv = {"cat", "/proc/self/status"};
              o.signals = cs;
              auto r = RunCaptured(o);
              if (!r.ok()) return 10;
              auto bits = [&r](const char* field) {
                return std::strtoull(StatusField(r->out, field).c_str(), nullptr, 16);
              };
              auto bit = [](int sig) { return 1ULL << (sig - 1); };
              if (bits("SigBlk") != (bit(SIGTERM) | bit(SIGUSR2))) return 11;
              if (bits("SigIgn") != (bit(SIGUSR1) | bit(SIGQUIT))) return 12;
              if (bits("SigCgt") != 0) return 13;
              // The caller's own state is untouched.
              struct sigaction now {};
              sigaction(SIGINT, nullptr, &now);
              if (now.sa_handler != SIG_IGN) return 14;
              sigaction(SIGHUP, nullptr, &now);
              if (now.sa_handler == SIG_DFL || now.sa_handler == SIG_IGN) return 15;
              return 0;
            }),
            0);
}

// Reads "pid (comm) state ppid pgrp session" from a child's /proc/self/stat.
void PgrpAndSession(const std::string& stat, long* pgrp, long* session) {
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string state;
  long ppid = 0;
  in >> state >> ppid >> *pgrp >> *session;
}

TEST(SpawnTest, NewProcessGroupAndSession) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo $$; cat /proc/$$/stat"};
  o.new_process_group = true;
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  long pid = std::strtol(r->out.c_str(), nullptr, 10);
  long pgrp = 0, session = 0;
  PgrpAndSession(r->out, &pgrp, &session);
  EXPECT_EQ(pgrp, pid);
  EXPECT_EQ(session, static_cast<long>(::getsid(0)));

  o.new_process_group = false;
  o.new_session = true;
  r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  pid = std::strtol(r->out.c_str(), nullptr, 10);
  PgrpAndSession(r->out, &pgrp, &session);
  EXPECT_EQ(pgrp, pid);
  EXPECT_EQ(session, pid);
}

TEST(SpawnTest, DupsOntoStandardFdsEvenWhenSwapped) {
  // stdout_fd == 0 and stdin_fd == 1 must not clobber each other.
  EXPECT_EQ(InChild([] {
              int out[2];
              if (::pipe(out) < 0) return 1;
              int in_fd = ::open("/proc/version", O_RDONLY);
              if (in_fd < 0) return 2;
              // Put the output pipe on fd 0 and the input file on fd 1.
              if (::dup2(out[1], 0) < 0 || ::dup2(in_fd, 1) < 0) return 3;
              ::close(out[1]);
              ::close(in_fd);
              SpawnOptions o;
              o.argv = {"head", "-c", "5"};
              o.stdin_fd = 1;
              o.stdout_fd = 0;
              auto pid = Spawn(o);
              ::close(0);
              if (!pid.ok()) return 4;
              int st = 0;
              ::waitpid(*pid, &st, 0);
              char buf[16] = {};
              ssize_t n = ::read(out[0], buf, sizeof(buf));
              return n == 5 && std::string(buf, 5) == "Linux" ? 0 : 5;
            }),
            0);
}

// Child steps run in order, in the child (the parent's state is untouched),
// before exec; the first failure stops the child and names the step.
TEST(SpawnTest, ChildStepsRunInOrderBeforeExec) {
  testutil::TempDir tmp;
  std::string log = tmp.path() + "/steps";
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "cat " + log};
  for (const char* n : {"first", "second"}) {
    o.steps.push_back({n, [log, n]() -> Result<void> {
                         auto old = ReadFileToString(log);
                         return WriteStringToFile(log, (old.ok() ? *old : "") + n + "\n");
                       }});
  }
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "first\nsecond\n");
}

TEST(SpawnTest, FailedChildStepIsNamedWithItsMessageAndReaped) {
  bool ran_after = false;
  SpawnOptions o;
  o.argv = {"/bin/true"};
  o.steps.push_back({"write uid_map", []() -> Result<void> {
                       return ErrnoErrorCode(EPERM) << "uid_map of pid 42";
                     }});
  o.steps.push_back({"never", [&ran_after]() -> Result<void> {
                       ran_after = true;  // in the child: the parent's copy stays false
                       return {};
                     }});
  auto pid = Spawn(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, EPERM);
  EXPECT_EQ(pid.error().str(),
            "write uid_map for /bin/true: uid_map of pid 42: Operation not permitted");
  EXPECT_FALSE(ran_after);
  EXPECT_TRUE(NoChildLeft());
}

// A step that hangs does not hang the parent: start_timeout kills it.
TEST(SpawnTest, StartTimeoutKillsAHangingStep) {
  SpawnOptions o;
  o.argv = {"/bin/true"};
  o.start_timeout = std::chrono::milliseconds(300);
  o.steps.push_back({"wait for a stuck device", []() -> Result<void> {
                       for (;;) ::pause();
                     }});
  auto start = std::chrono::steady_clock::now();
  auto pid = Spawn(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().str(), "/bin/true did not start within 0.3 s (killed it)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(NoChildLeft());
}

// argv0 is what the program sees; the file run is still argv[0].
TEST(SpawnTest, Argv0IsWhatTheProgramSees) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo $0"};
  o.argv0 = "@sidecar-sh";
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "@sidecar-sh\n");
}

// close_other_fds: a descriptor the parent leaked without O_CLOEXEC does not
// reach the program; without it, it does.
TEST(SpawnTest, CloseOtherFdsKeepsLeakedDescriptorsOut) {
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  unique_fd guard(leaked);
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c",
            "[ -e /proc/self/fd/" + std::to_string(leaked) + " ] && echo open || echo closed"};
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "open\n");
  o.close_other_fds = true;
  r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "closed\n");
}

// inherit_fds: the listed fds arrive as 3, 4, ... in order (even when a
// source already sits on another's target), everything else is closed, and
// an exec failure after the move is still reported.
TEST(SpawnTest, InheritFdsAtFixedNumbersAndNothingElse) {
  testutil::TempDir tmp;
  ASSERT_TRUE(WriteStringToFile(tmp.path() + "/a", "A").ok());
  ASSERT_TRUE(WriteStringToFile(tmp.path() + "/b", "B").ok());
  unique_fd a(::open((tmp.path() + "/a").c_str(), O_RDONLY | O_CLOEXEC));
  unique_fd b(::open((tmp.path() + "/b").c_str(), O_RDONLY | O_CLOEXEC));
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  unique_fd guard(leaked);
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "cat <&3; cat <&4; ls /proc/self/fd | sort -n | tr '\\n' ' '"};
  o.inherit_fds = {b.get(), a.get()};
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  // ls opens its own directory fd, the lowest free one (5): nothing else.
  EXPECT_EQ(r->out, "BA0 1 2 3 4 5 ") << "leaked fd " << leaked;
  o.argv = {"/nonexistent/prog"};
  auto missing = Spawn(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  EXPECT_TRUE(NoChildLeft());
  o.inherit_fds = {12345};
  EXPECT_FALSE(Spawn(o).ok());
}

// A child step forces the fork path; without one Spawn takes the fast
// (CLONE_VM | CLONE_VFORK) path. Both must give the same results.
SpawnOptions ForcedFork(SpawnOptions o) {
  o.steps.push_back({"do nothing", [] { return Result<void>(); }});
  return o;
}

std::string Describe(const Result<Outcome>& r) {
  if (!r.ok()) return "error " + std::to_string(r.error().code) + " " + r.error().str();
  return "status " + std::to_string(r->status) + " out " + r->out;
}

// The exec search the child does itself (execvp's rules: PATH of the given
// environment, EACCES remembered while later directories are tried, the
// /bin/sh fallback for an executable without "#!"), and the other failures,
// on the fast path and on the fork path.
TEST(SpawnTest, FastPathAndForkPathGiveTheSameResults) {
  testutil::TempDir tmp;
  const std::string denied = tmp.path() + "/denied", found = tmp.path() + "/found";
  ASSERT_EQ(::mkdir(denied.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(found.c_str(), 0755), 0);
  ASSERT_TRUE(WriteStringToFile(denied + "/prog", "#!/bin/sh\necho denied\n").ok());
  ASSERT_EQ(::chmod((denied + "/prog").c_str(), 0644), 0);
  ASSERT_TRUE(WriteStringToFile(found + "/prog", "#!/bin/sh\necho found \"$@\"\n").ok());
  ASSERT_EQ(::chmod((found + "/prog").c_str(), 0755), 0);
  // No "#!": execve says ENOEXEC and execvp runs it with /bin/sh.
  ASSERT_TRUE(WriteStringToFile(found + "/plain", "echo plain \"$0\" \"$@\"\n").ok());
  ASSERT_EQ(::chmod((found + "/plain").c_str(), 0755), 0);

  struct Case {
    std::vector<std::string> argv;
    std::string path;  // PATH of the child's environment
    std::string cwd;
    std::string expect;  // what both paths must give
  };
  const std::string eacces = "error " + std::to_string(EACCES) + " exec prog: ";
  const std::vector<Case> cases = {
      {{"prog", "a"}, found, "", "status 0 out found a\n"},
      {{"prog", "a"}, denied + ":" + found, "", "status 0 out found a\n"},
      {{"prog"}, denied, "", eacces + std::strerror(EACCES)},
      {{"prog"},
       "/nonexistent:" + tmp.path(),
       "",
       "error " + std::to_string(ENOENT) + " exec prog: " + std::strerror(ENOENT)},
      {{"plain", "x"}, found, "", "status 0 out plain " + found + "/plain x\n"},
      {{found + "/plain"}, "/nonexistent", "", "status 0 out plain " + found + "/plain\n"},
      {{"prog"}, ":/nonexistent", found, "status 0 out found\n"},  // "" is the cwd
      {{"prog"},
       found,
       "/nonexistent-initos-dir",
       "error " + std::to_string(ENOENT) + " chdir for prog: " + std::strerror(ENOENT)},
  };
  for (const Case& c : cases) {
    SpawnOptions o;
    o.argv = c.argv;
    o.env = std::vector<std::string>{"PATH=" + c.path};
    o.cwd = c.cwd;
    EXPECT_EQ(Describe(RunCaptured(o)), c.expect) << "fast path, " << c.argv[0];
    EXPECT_EQ(Describe(RunCaptured(ForcedFork(o))), c.expect) << "fork path, " << c.argv[0];
  }
  EXPECT_TRUE(NoChildLeft());
}

// The fast path shares the parent's memory until exec instead of copying
// it: the parent's pages are not write-protected for copy-on-write, so
// writing them afterwards costs no fault (after a fork, one per page).
TEST(SpawnTest, FastPathCopiesNoPageTables) {
  constexpr size_t kPages = 2048;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* mem =
      ::mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  ::madvise(mem, kPages * page, MADV_NOHUGEPAGE);  // one fault per 4 kB page
  auto* bytes = static_cast<volatile char*>(mem);
  auto faults_after_spawn = [&](const SpawnOptions& o) -> long {
    for (size_t i = 0; i < kPages; ++i) bytes[i * page] = 1;
    struct rusage before {
    }, after{};
    ::getrusage(RUSAGE_SELF, &before);
    auto pid = Spawn(o);
    if (!pid.ok()) return -1;
    ::waitpid(*pid, nullptr, 0);
    for (size_t i = 0; i < kPages; ++i) bytes[i * page] = 2;
    ::getrusage(RUSAGE_SELF, &after);
    return after.ru_minflt - before.ru_minflt;
  };
  SpawnOptions o;
  o.argv = {"/bin/true"};
  const long fast = faults_after_spawn(o);
  const long forked = faults_after_spawn(ForcedFork(o));
  ::munmap(mem, kPages * page);
  EXPECT_GE(forked, static_cast<long>(kPages)) << "the fork path copies the page tables";
  EXPECT_LT(fast, static_cast<long>(kPages / 8)) << "fast path: " << fast << " faults";
}

// The fast path's child runs in the parent's memory: it must leave the
// parent's environment (and everything else) as it was, also when it gets
// an environment of its own and fails.
TEST(SpawnTest, FastPathLeavesTheParentsEnvironmentAlone) {
  char** const environ_before = environ;
  const char* path_before = std::getenv("PATH");
  const std::string path_copy = path_before ? path_before : "";
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo $INITOS_SPAWN_VAR $PATH"};
  o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "INITOS_SPAWN_VAR=child"};
  auto r = RunCaptured(o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->out, "child /usr/bin:/bin\n");
  o.argv = {"initos-no-such-program"};
  EXPECT_FALSE(Spawn(o).ok());
  EXPECT_EQ(environ, environ_before);
  EXPECT_EQ(std::getenv("INITOS_SPAWN_VAR"), nullptr);
  ASSERT_NE(std::getenv("PATH"), nullptr);
  EXPECT_EQ(std::string(std::getenv("PATH")), path_copy);
}

TEST(SpawnTest, RejectsEmptyArgv) {
  SpawnOptions o;
  auto r = Spawn(o);
  EXPECT_FALSE(r.ok());
}

// PID 1 waits for helpers (network hook, mkfs) with a limit: a hung one is
// killed, with its process group, and named in the error.
TEST(SpawnAndWaitTimeout, HungProgramIsKilledAndNamed) {
  char dir_t[] = "/tmp/spawn_timeout.XXXXXX";
  std::string dir = ::mkdtemp(dir_t);
  const std::string pidfile = dir + "/grandchild.pid";
  SpawnOptions o;
  // A grandchild in the same group holds the output pipe open, as a hook's
  // background job would: it must die too.
  o.argv = {"/bin/sh", "-c", "sleep 30 & echo $! > " + pidfile + "; wait"};
  auto start = std::chrono::steady_clock::now();
  auto f = SpawnAndWait(o, /*merge_stderr=*/true, std::chrono::milliseconds(300));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().str(),
            "/bin/sh did not finish within 0.3 s (killed it and its process group)");
  EXPECT_LT(took, 5.0);
  EXPECT_GE(took, 0.29);
  auto text = ReadFileToString(pidfile);
  ASSERT_TRUE(text.ok());
  pid_t grandchild = std::atoi(text->c_str());
  ASSERT_GT(grandchild, 0);
  // Reparented to whoever reaps orphans here; gone or a zombie soon after.
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    auto stat = ReadFileToString("/proc/" + std::to_string(grandchild) + "/stat");
    dead = !stat.ok() || stat->find(") Z ") != std::string::npos;
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(dead) << "sleep " << grandchild << " survived the timeout";
  EXPECT_TRUE(NoChildLeft());
  std::system(("rm -rf " + dir).c_str());
}

TEST(SpawnAndWaitTimeout, FastProgramWithinTheLimit) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo ok; exit 3"};
  auto f = SpawnAndWait(o, /*merge_stderr=*/false, std::chrono::seconds(10));
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_EQ(f->output, "ok\n");
  EXPECT_TRUE(WIFEXITED(f->wait_status));
  EXPECT_EQ(WEXITSTATUS(f->wait_status), 3);
  EXPECT_TRUE(NoChildLeft());
}

// Without output capture (the network hook writes to the console).
TEST(SpawnAndWaitTimeout, WaitForExitKillsTheGroupOnExpiry) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "sleep 30"};
  o.new_process_group = true;
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  auto status = WaitForExit(*pid, std::chrono::milliseconds(200), "hook");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().str(),
            "hook did not finish within 0.2 s (killed it and its process group)");
  EXPECT_TRUE(NoChildLeft());

  o.argv = {"/bin/sh", "-c", "exit 4"};
  pid = Spawn(o);
  ASSERT_TRUE(pid.ok());
  status = WaitForExit(*pid, std::chrono::seconds(10), "hook");
  ASSERT_TRUE(status.ok()) << status.error().str();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 4);
}

TEST(SpawnAndWaitTimeout, FormatTimeout) {
  EXPECT_EQ(FormatTimeout(std::chrono::seconds(30)), "30 s");
  EXPECT_EQ(FormatTimeout(std::chrono::milliseconds(250)), "0.25 s");
  EXPECT_EQ(FormatTimeout(std::chrono::milliseconds(1500)), "1.5 s");
}

}  // namespace
}  // namespace initos
