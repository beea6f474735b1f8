// The SSH sidecar end to end on the host: started in its own mount namespace
// from the host's real sshd and libraries, reached with the real ssh client
// on 127.0.0.1, key-only, restarted when sshd dies, stopped by SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/file.h"
#include "base/testing/net_util.h"
#include "base/testing/test_util.h"
#include "format/boot_status.h"
#include "gtest/gtest.h"
#include "sidecar/sidecar.h"
#include "sidecar/sidecar_files.h"

namespace initos {
namespace {

struct Cmd {
  int status = -1;
  std::string out;
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

Cmd RunCmd(const std::string& cmd) {
  ::initos::testutil::ShellResult r = ::initos::testutil::Shell(cmd);
  return {r.wait_status, r.out};
}

bool WaitFor(const std::function<bool()>& cond, int ms = 10000) {
  for (int waited = 0; waited < ms; waited += 50) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

// Direct children of pid (sshd under the supervisor).
std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> out;
  auto text = ReadFileToString("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                               "/children");
  if (!text.ok()) return out;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t sp = text->find(' ', pos);
    std::string n = text->substr(pos, sp - pos);
    if (!n.empty()) out.push_back(std::stoi(n));
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  return out;
}

bool Alive(pid_t pid) {
  auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t rp = stat->rfind(')');
  return rp != std::string::npos && stat->size() > rp + 2 && (*stat)[rp + 2] != 'Z';
}

// A "Name:   N kB" field of /proc/PID/status, -1 if missing.
long StatusKb(pid_t pid, const std::string& name) {
  auto text = ReadFileToString("/proc/" + std::to_string(pid) + "/status");
  if (!text.ok()) return -1;
  size_t at = text->find("\n" + name + ":");
  if (at == std::string::npos) return -1;
  return std::strtol(text->c_str() + at + name.size() + 2, nullptr, 10);
}

// Rss of file pages: sshd's files live in the sidecar's tmpfs (shmem).
long FileRssKb(pid_t pid) {
  return StatusKb(pid, "RssFile") + StatusKb(pid, "RssShmem");
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// Does the built binary already dispatch `initos sidecar`?
bool BinaryHasSidecar() {
  return RunCmd(std::string(INITOS_BINARY) + " sidecar --help").ok();
}

class SidecarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount namespaces, sshd)";
    for (const char* p :
         {"/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/bin/busybox"}) {
      if (::access(p, X_OK) != 0) GTEST_SKIP() << p << " missing (scripts/setup.sh)";
    }
    char t[] = "/tmp/sidecar_root_test.XXXXXX";
    base_ = ::mkdtemp(t);
    ASSERT_TRUE(MakeDirs(base_ + "/os/etc").ok());
    ASSERT_TRUE(WriteStringToFile(base_ + "/os/etc/marker", "hello from the os\n").ok());
    ASSERT_TRUE(MakeDirs(base_ + "/state", 0700).ok());
    ASSERT_EQ(::chmod((base_ + "/state").c_str(), 0700), 0);
    for (const char* k : {"client", "wrong"}) {
      ASSERT_TRUE(RunCmd("ssh-keygen -q -t ed25519 -N '' -f " + base_ + "/" + k).ok());
    }
    auto pub = ReadFileToString(base_ + "/client.pub");
    ASSERT_TRUE(pub.ok());
    auto files = SidecarFiles();
    ASSERT_TRUE(files.ok()) << files.error().str();

    spec_.source_root = "/";
    for (const auto& f : *files) spec_.files.push_back(f.dest);  // same paths on this host
    spec_.initos_binary = BinaryHasSidecar() ? INITOS_BINARY : "";
    spec_.work_dir = base_ + "/sidecar-root";
    spec_.os_root = base_ + "/os";
    spec_.state_dir = base_ + "/state";
    port_ = testutil::FreeLoopbackPort();
    spec_.listen = {"127.0.0.1:" + std::to_string(port_)};
    spec_.authorized_keys = {*pub};
    spec_.log_path = "/run/initos/state/sidecar.log";  // base_/state/sidecar.log from here
    spec_.min_backoff_ms = 200;
    spec_.max_backoff_ms = 2000;
  }

  void TearDown() override {
    StopSidecar();
    if (!base_.empty()) std::system(("rm -rf " + base_).c_str());
  }

  void Start() {
    auto pid = StartSidecar(spec_);
    ASSERT_TRUE(pid.ok()) << pid.error().str();
    pid_ = *pid;
    ASSERT_TRUE(WaitFor([&] { return testutil::LoopbackPortOpen(port_); }, 30000))
        << "sshd never listened\n"
        << Log();
  }

  // SIGTERM, then the exit status (or -1).
  int StopSidecar() {
    if (pid_ <= 0) return -1;
    std::vector<pid_t> kids = Children(pid_);
    ::kill(pid_, SIGTERM);
    int status = -1;
    bool exited = WaitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 10000);
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    for (pid_t k : kids) {
      if (Alive(k)) ::kill(k, SIGKILL);
    }
    pid_ = -1;
    return status;
  }

  std::string Ssh(const std::string& extra) const {
    return "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
           "-o IdentityAgent=none -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR "
           "-p " +
           std::to_string(port_) + " " + extra;
  }
  Cmd SshWithKey(const std::string& key, const std::string& command) const {
    return RunCmd(
        Ssh("-o BatchMode=yes -i " + base_ + "/" + key + " root@127.0.0.1 '" + command + "'"));
  }
  std::string Log() const {
    auto l = ReadFileToString(base_ + "/state/sidecar.log");
    return l.ok() ? *l : "(no log)";
  }

  std::string base_;
  SidecarSpec spec_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(SidecarTest, KeyLoginSeesTheOsRoot) {
  Start();
  Cmd c = SshWithKey("client", "cat /sysroot/etc/marker");
  EXPECT_TRUE(c.ok()) << c.out << Log();
  EXPECT_EQ(c.out, "hello from the os\n");
  // The session runs in the sidecar's root, not the host's.
  c = SshWithKey("client", "cat /etc/passwd");
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.out.rfind("root:x:0:0:", 0), 0u) << c.out;
  EXPECT_EQ(c.out.find("daemon:"), std::string::npos) << c.out;
  if (!spec_.initos_binary.empty()) {
    auto cmdline = ReadFileToString("/proc/" + std::to_string(pid_) + "/cmdline");
    ASSERT_TRUE(cmdline.ok());
    EXPECT_EQ(cmdline->rfind(std::string(kSidecarArgv0) + '\0' + "sidecar", 0), 0u) << *cmdline;
  }
  // sshd is marked too (systemd's killing spree skips '@' processes).
  auto kids = Children(pid_);
  ASSERT_EQ(kids.size(), 1u);
  auto sshd_cmdline = ReadFileToString("/proc/" + std::to_string(kids[0]) + "/cmdline");
  ASSERT_TRUE(sshd_cmdline.ok());
  EXPECT_EQ(sshd_cmdline->rfind("@sshd", 0), 0u) << *sshd_cmdline;
}

// Once sshd sits idle the supervisor has the kernel take back its clean file
// pages (process_madvise MADV_PAGEOUT); logins still work, its anonymous
// memory is untouched, and a restarted sshd gets the same.
TEST_F(SidecarTest, IdleSshdGivesBackItsFilePagesAndStillLogsIn) {
  const std::string kReleased = "sshd idle: released its clean file pages";
  Start();
  for (int round = 1; round <= 2; round++) {
    auto kids = Children(pid_);
    ASSERT_EQ(kids.size(), 1u);
    const pid_t sshd = kids[0];
    // Listening, not yet idle for a second: what start-up left mapped.
    const long file_before = FileRssKb(sshd);
    const long anon_before = StatusKb(sshd, "RssAnon");
    ASSERT_EQ(Count(Log(), kReleased), static_cast<size_t>(round - 1)) << Log();
    ASSERT_TRUE(WaitFor([&] { return Count(Log(), kReleased) == static_cast<size_t>(round); }))
        << Log();
    const long file_after = FileRssKb(sshd);
    const long anon_after = StatusKb(sshd, "RssAnon");
    EXPECT_GT(file_before, 2048) << "sshd's file pages at start-up";
    EXPECT_LT(file_after, file_before / 2) << file_before << " -> " << file_after << " kB\n"
                                           << Log();
    EXPECT_GE(anon_after, anon_before) << "anonymous pages were taken";
    Cmd c = SshWithKey("client", "cat /sysroot/etc/marker");
    EXPECT_TRUE(c.ok()) << c.out << Log();
    EXPECT_EQ(c.out, "hello from the os\n");
    if (round == 2) break;
    ASSERT_EQ(::kill(sshd, SIGKILL), 0);
    ASSERT_TRUE(WaitFor([&] {
      auto k = Children(pid_);
      return k.size() == 1 && k[0] != sshd && testutil::LoopbackPortOpen(port_);
    })) << Log();
  }
}

TEST_F(SidecarTest, PasswordsAndUnknownKeysAreRefused) {
  Start();
  Cmd pw =
      RunCmd(Ssh("-o BatchMode=yes -o PreferredAuthentications=password,keyboard-interactive "
                 "-o PubkeyAuthentication=no root@127.0.0.1 true"));
  EXPECT_FALSE(pw.ok()) << pw.out;
  // The server offers nothing but public keys.
  EXPECT_NE(pw.out.find("Permission denied (publickey)"), std::string::npos) << pw.out;
  Cmd wrong = SshWithKey("wrong", "true");
  EXPECT_FALSE(wrong.ok()) << wrong.out;
  EXPECT_NE(wrong.out.find("Permission denied (publickey)"), std::string::npos) << wrong.out;
  EXPECT_TRUE(SshWithKey("client", "true").ok());
}

// Root in the OS can write the state partition: a key planted there must
// not open the sidecar (keys come only from the signed config).
TEST_F(SidecarTest, KeyPlantedOnTheStatePartitionIsRefused) {
  auto wrong_pub = ReadFileToString(base_ + "/wrong.pub");
  ASSERT_TRUE(wrong_pub.ok());
  ASSERT_TRUE(MakeDirs(base_ + "/state/sidecar", 0700).ok());
  ASSERT_TRUE(WriteStringToFile(base_ + "/state/sidecar/authorized_keys", *wrong_pub, 0600).ok());
  Start();
  Cmd c = SshWithKey("wrong", "echo ok");
  EXPECT_FALSE(c.ok()) << c.out << Log();
  EXPECT_NE(c.out.find("Permission denied (publickey)"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("ok\n"), std::string::npos) << c.out;
  // The configured key still works.
  Cmd good = SshWithKey("client", "echo ok");
  EXPECT_TRUE(good.ok()) << good.out << Log();
  EXPECT_EQ(good.out, "ok\n");
}

// `initos status` in the sidecar reads the copy taken at start, so the OS
// rewriting its /run/initos/status afterwards changes nothing it prints.
TEST_F(SidecarTest, StatusReadsTheCopyInTheSidecarTmpfs) {
  BootStatus st;
  st.image = "debian";
  st.version = 7;
  st.root_hash = std::string(64, 'a');
  st.mode = "switch-root";
  st.source = "PARTLABEL=debian";
  st.initos_version = "0.1.0";
  st.booted_at = 3.5;
  const std::string record = base_ + "/os-run-initos-status";
  ASSERT_TRUE(WriteBootStatus(record, st).ok());
  spec_.boot_status = record;
  Start();
  BootStatus forged = st;
  forged.image = "forged";
  ASSERT_TRUE(WriteBootStatus(record, forged).ok());
  Cmd c = SshWithKey("client", "cat /run/initos/status");
  EXPECT_TRUE(c.ok()) << c.out << Log();
  EXPECT_EQ(c.out, SerializeBootStatus(st));
  if (!spec_.initos_binary.empty()) {
    Cmd status = SshWithKey("client", "initos status --json");
    EXPECT_TRUE(status.ok()) << status.out << Log();
    EXPECT_NE(status.out.find("\"image\": \"debian\""), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("\"version\": 7,"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("\"record\": \"/run/initos/status\""), std::string::npos)
        << status.out;
    EXPECT_EQ(status.out.find("forged"), std::string::npos) << status.out;
  }
}

TEST_F(SidecarTest, KilledSshdComesBack) {
  Start();
  auto kids = Children(pid_);
  ASSERT_EQ(kids.size(), 1u);
  pid_t first = kids[0];
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] {
    auto k = Children(pid_);
    return k.size() == 1 && k[0] != first && testutil::LoopbackPortOpen(port_);
  })) << Log();
  Cmd c = SshWithKey("client", "cat /sysroot/etc/marker");
  EXPECT_TRUE(c.ok()) << c.out;
  EXPECT_EQ(c.out, "hello from the os\n");
  EXPECT_NE(Log().find("sshd killed by"), std::string::npos) << Log();
}

TEST_F(SidecarTest, SigtermStopsSshdAndExitsZero) {
  Start();
  auto kids = Children(pid_);
  ASSERT_EQ(kids.size(), 1u);
  pid_t sshd = kids[0];
  int status = StopSidecar();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << Log();
  EXPECT_FALSE(Alive(sshd));
  EXPECT_FALSE(testutil::LoopbackPortOpen(port_));
  EXPECT_NE(Log().find("stopped"), std::string::npos) << Log();
}

TEST_F(SidecarTest, HostKeyPersistsInTheStateDir) {
  Start();
  const std::string key = base_ + "/state/sidecar/ssh_host_ed25519_key";
  auto pub1 = ReadFileToString(key + ".pub");
  ASSERT_TRUE(pub1.ok()) << Log();
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Cmd scan1 = RunCmd("ssh-keyscan -T 30 -t ed25519 -p " + std::to_string(port_) + " 127.0.0.1");
  ASSERT_EQ(StopSidecar() != -1, true);
  Start();
  auto pub2 = ReadFileToString(key + ".pub");
  ASSERT_TRUE(pub2.ok());
  EXPECT_EQ(*pub1, *pub2);
  Cmd scan2 = RunCmd("ssh-keyscan -T 30 -t ed25519 -p " + std::to_string(port_) + " 127.0.0.1");
  // The server presents the stored key, both times.
  std::string key_b64 = pub1->substr(pub1->find(' ') + 1);
  key_b64 = key_b64.substr(0, key_b64.find(' '));
  EXPECT_NE(scan1.out.find(key_b64), std::string::npos) << scan1.out;
  EXPECT_NE(scan2.out.find(key_b64), std::string::npos) << scan2.out;
}

// sidecar.start = "after-os-init": PID 1 prepares the tree (read-only) and
// the runtime unit; what the unit runs, `initos sidecar launch`, starts the
// same sidecar from that tree. Here a forked child plays both parts in its
// own mount namespace, with the host's "/" as the OS.
TEST_F(SidecarTest, AfterOsInitLaunchesThePreparedSidecar) {
  if (spec_.initos_binary.empty()) GTEST_SKIP() << "the built initos has no `sidecar` command";
  const std::string staging = base_ + "/staging", run = base_ + "/run";
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto fail = [&](const std::string& msg) {
      (void)!::write(fds[1], msg.data(), msg.size());
      ::_exit(1);
    };
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      fail("unshare");
    auto prep = PrepareSidecarForOs(spec_, staging, run, staging, spec_.state_dir);
    if (!prep.ok()) fail(prep.error().str());
    int w = ::open((staging + "/x").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (w >= 0 || errno != EROFS) fail("the prepared tree is writable");
    auto r = LaunchPreparedSidecar(staging, spec_.state_dir);  // execs on success
    fail(r.error().str());
  }
  ::close(fds[1]);
  pid_ = pid;
  ASSERT_TRUE(WaitFor([&] { return testutil::LoopbackPortOpen(port_) || !Alive(pid_); }, 30000));
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) err.append(buf, n);  // EOF at exec
  ::close(fds[0]);
  ASSERT_EQ(err, "") << Log();
  ASSERT_TRUE(testutil::LoopbackPortOpen(port_)) << Log();

  auto unit = ReadFileToString(run + "/systemd/system/initos-sidecar.service");
  ASSERT_TRUE(unit.ok()) << unit.error().str();
  EXPECT_NE(unit->find("ExecStart=" + staging + "/usr/lib/initos/initos sidecar launch --staging " +
                       staging + " --state " + spec_.state_dir + "\n"),
            std::string::npos)
      << *unit;
  char target[256] = {};
  ASSERT_GT(
      ::readlink((run + "/systemd/system/multi-user.target.wants/initos-sidecar.service").c_str(),
                 target, sizeof target - 1),
      0);
  EXPECT_STREQ(target, "../initos-sidecar.service");

  // The same sidecar: argv[0], the configured key, the OS at /sysroot.
  auto cmdline = ReadFileToString("/proc/" + std::to_string(pid_) + "/cmdline");
  ASSERT_TRUE(cmdline.ok());
  EXPECT_EQ(cmdline->rfind(std::string(kSidecarArgv0) + '\0' + "sidecar", 0), 0u) << *cmdline;
  Cmd c = SshWithKey("client", "cat /sysroot" + base_ + "/os/etc/marker");
  EXPECT_TRUE(c.ok()) << c.out << Log();
  EXPECT_EQ(c.out, "hello from the os\n");
  Cmd wrong = SshWithKey("wrong", "true");
  EXPECT_FALSE(wrong.ok()) << wrong.out;
  EXPECT_EQ(StopSidecar() != -1, true);
}

TEST_F(SidecarTest, SetupErrorsComeBackToTheCaller) {
  spec_.os_root = base_ + "/no-such-os";
  auto pid = StartSidecar(spec_);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().str().find("no-such-os"), std::string::npos) << pid.error().str();
}

}  // namespace
}  // namespace initos
