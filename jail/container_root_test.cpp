// Container jails started for real on a busybox rootfs: what the kernel
// shows from inside and outside. cgroup limits need a cgroup2 hierarchy
// with the memory and pids controllers (the QEMU guest of
// scripts/root-tests-in-vm.sh); on a hybrid-cgroup host the jails live
// under /sys/fs/cgroup/unified and the limit tests skip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <linux/reboot.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "base/file.h"
#include "base/spawn.h"
#include "base/testing/require.h"
#include "base/unique_fd.h"
#include "jail/container.h"
#include "jail/seccomp_policy.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
constexpr uint32_t kHostBase = 300000;

// Probe mode: a jail runs this very binary (bound in read-only with the
// host's libraries) with INITOS_JAIL_PROBE=HOSTPID set. Before gtest's main
// it tries each escape and prints "NAME ERRNO" (0: it worked), then exits.
void Probe(const char* name, long r) {
  std::printf("%s %d\n", name, r < 0 ? errno : 0);
}

int RunProbesIfAsked() {
  if (std::getenv("INITOS_JAIL_PROBE_EUID") != nullptr) {  // run as a setuid copy
    std::printf("euid %d\n", static_cast<int>(::geteuid()));
    std::fflush(stdout);
    ::_exit(0);
  }
  const char* host = std::getenv("INITOS_JAIL_PROBE");
  if (host == nullptr) return 0;
  const pid_t host_pid = static_cast<pid_t>(std::atoi(host));
  Probe("raw_socket", ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW));
  Probe("packet_socket", ::socket(AF_PACKET, SOCK_RAW, 0));
  Probe("mount", ::mount("none", "/tmp", "tmpfs", 0, nullptr));
  Probe("mknod", ::mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)));
  Probe("init_module", ::syscall(SYS_init_module, nullptr, 0, ""));
  Probe("finit_module", ::syscall(SYS_finit_module, 0, "", 0));
  Probe("kexec_load", ::syscall(SYS_kexec_load, 0, 0, nullptr, 0));
  Probe("reboot", ::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                            LINUX_REBOOT_CMD_CAD_OFF, nullptr));
  struct {
    unsigned int bytes;
    int type;
    unsigned char h[8];
  } handle = {8, 1, {}};
  Probe("open_by_handle_at", ::syscall(SYS_open_by_handle_at, AT_FDCWD, &handle, O_RDONLY));
  Probe("kill_host", ::kill(host_pid, 0));
  Probe("ptrace_host", ::ptrace(PTRACE_ATTACH, host_pid, nullptr, nullptr));
  std::string exe = "/proc/" + std::to_string(host_pid) + "/exe";
  Probe("open_host_exe", ::open(exe.c_str(), O_WRONLY | O_CLOEXEC));
  Probe("open_self_exe_rw", ::open("/proc/self/exe", O_WRONLY | O_CLOEXEC));
  Probe("dev_mem", ::open("/dev/mem", O_RDONLY | O_CLOEXEC));
  Probe("dev_kmsg", ::open("/dev/kmsg", O_RDONLY | O_CLOEXEC));
  Probe("sysrq", ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC));
  Probe("proc_sys", ::open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC));
  Probe("sys", ::open("/sys/kernel/probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  // Seccomp's business (the capability cut alone does not stop them all).
  Probe("keyctl", ::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, nullptr));
  unsigned char bpf_attr[128] = {};
  Probe("bpf", ::syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, bpf_attr, sizeof(bpf_attr)));
  unsigned char perf_attr[128] = {};
  perf_attr[4] = sizeof(perf_attr);  // attr.size
  Probe("perf_event_open", ::syscall(SYS_perf_event_open, perf_attr, 0, -1, -1, 0));
  Probe("userfaultfd", ::syscall(SYS_userfaultfd, O_CLOEXEC));
  char c = 'x';
  Probe("tiocsti", ::ioctl(0, TIOCSTI, &c));
  // Last: a nested user namespace (if allowed) must not mount a new /proc.
  long u = ::unshare(CLONE_NEWUSER | CLONE_NEWNS);
  if (u < 0) {
    Probe("nested_proc_mount", u);
  } else {
    Probe("nested_proc_mount", ::mount("proc", "/proc", "proc", 0, nullptr));
  }
  std::fflush(stdout);
  ::_exit(0);
}

const int kProbeMode = RunProbesIfAsked();

bool IsCgroup2(const std::string& path) {
  struct statfs s {};
  return ::statfs(path.c_str(), &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

// The cgroup2 mount jails go under: /sys/fs/cgroup, or /sys/fs/cgroup/unified
// on a hybrid host.
std::string Cgroup2Root() {
  if (IsCgroup2("/sys/fs/cgroup")) return "/sys/fs/cgroup";
  if (IsCgroup2("/sys/fs/cgroup/unified")) return "/sys/fs/cgroup/unified";
  return "";
}

bool HasControllers(const std::string& root, std::initializer_list<const char*> names) {
  auto c = ReadFileToString(root + "/cgroup.controllers");
  if (!c.ok()) return false;
  for (const char* n : names)
    if (c->find(n) == std::string::npos) return false;
  return true;
}

class ContainerRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/bin/busybox", X_OK), 0) << "needs a static /bin/busybox";
    // Not under /tmp: the jail gets its own tmpfs there, and the escape
    // test needs the host path to exist inside the image too.
    fs::create_directories("/var/tmp");  // the VM's initramfs has none
    char tmpl[] = "/var/tmp/jail_root_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    rootfs_ = base_ + "/rootfs";
    fs::create_directories(rootfs_ + "/bin");
    fs::create_directories(rootfs_ + "/etc");
    fs::copy_file("/bin/busybox", rootfs_ + "/bin/busybox");
    SpawnOptions list_options;
    list_options.argv = {"/bin/busybox", "--list"};
    auto list = SpawnAndWait(list_options, false);
    ASSERT_TRUE(list.ok());
    std::istringstream in(list->output);
    std::string applet;
    while (std::getline(in, applet))
      if (!applet.empty() && applet != "busybox")
        fs::create_symlink("busybox", rootfs_ + "/bin/" + applet);
    ASSERT_TRUE(WriteStringToFile(rootfs_ + "/etc/passwd",
                                  "root:x:0:0:root:/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
                    .ok());
    ASSERT_TRUE(
        WriteStringToFile(rootfs_ + "/etc/group", "root:x:0:\ntty:x:5:\napp:x:1000:\n").ok());
    // The image belongs to the jail's root, as a rootless image store has it.
    ASSERT_EQ(::chmod(base_.c_str(), 0755), 0);
    for (auto& e : fs::recursive_directory_iterator(rootfs_))
      ASSERT_EQ(::lchown(e.path().c_str(), kHostBase, kHostBase), 0);
    ASSERT_EQ(::chown(rootfs_.c_str(), kHostBase, kHostBase), 0);

    cgroup_root_ = Cgroup2Root();
    ASSERT_FALSE(cgroup_root_.empty()) << "no cgroup2 mount at /sys/fs/cgroup(/unified)";
    spec_.rootfs = rootfs_;
    spec_.cgroup_parent = cgroup_root_ + "/initos-test";
    spec_.uid_map = {kHostBase, 65536};
    spec_.gid_map = {kHostBase, 65536};
    spec_.config.name = "t" + std::to_string(::getpid());
    spec_.config.kind = JailKind::kUnprivileged;
    spec_.config.network.kind = JailNetworkKind::kLoopback;
  }
  void TearDown() override {
    if (started_.pid > 0) {
      ::kill(started_.pid, SIGKILL);
      ::waitpid(started_.pid, nullptr, 0);
      CleanUpContainer(spec_, started_);
    }
    ::rmdir(spec_.cgroup_parent.c_str());
    if (!base_.empty()) fs::remove_all(base_);
  }

  // Starts the jail with a pipe as its console; returns false on failure.
  ::testing::AssertionResult Start(std::vector<std::string> command) {
    spec_.config.command = std::move(command);
    unique_fd w;
    if (pty_slave_.ok()) {  // UsePtyConsole
      out_.reset(::fcntl(pty_master_.get(), F_DUPFD_CLOEXEC, 3));
      w = std::move(pty_slave_);
    } else {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) return ::testing::AssertionFailure() << "pipe";
      out_.reset(fds[0]);
      w.reset(fds[1]);
    }
    spec_.console_fd = w.get();
    auto s = StartContainer(spec_);
    spec_.console_fd = -1;
    if (!s.ok()) return ::testing::AssertionFailure() << s.error().str();
    started_ = std::move(*s);
    return ::testing::AssertionSuccess();
  }
  // The next Start gets a raw pty as its console instead of a pipe.
  void UsePtyConsole() {
    pty_master_.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    ASSERT_TRUE(pty_master_.ok());
    ASSERT_EQ(::grantpt(pty_master_.get()), 0);
    ASSERT_EQ(::unlockpt(pty_master_.get()), 0);
    pty_slave_.reset(::open(::ptsname(pty_master_.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
    ASSERT_TRUE(pty_slave_.ok());
    struct termios t {};
    ASSERT_EQ(::tcgetattr(pty_slave_.get(), &t), 0);
    ::cfmakeraw(&t);  // no echo, no CR/LF translation: bytes as written
    ASSERT_EQ(::tcsetattr(pty_slave_.get(), TCSANOW, &t), 0);
  }
  // Reads console output until EOF or until it contains `until`.
  std::string Read(const std::string& until = "") {
    std::string got;
    char buf[4096];
    for (;;) {
      if (!until.empty() && got.find(until) != std::string::npos) return got;
      struct pollfd p = {out_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20000) <= 0) return got + "<timeout>";
      ssize_t n = ::read(out_.get(), buf, sizeof(buf));
      if (n <= 0) return got;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  int Wait() {
    int status = -1;
    ::waitpid(started_.pid, &status, 0);
    CleanUpContainer(spec_, started_);
    started_.pid = 0;
    return status;
  }
  // Runs the command to the end: its console output and wait status.
  std::pair<std::string, int> Run(std::vector<std::string> command) {
    EXPECT_TRUE(Start(std::move(command)));
    if (started_.pid <= 0) return {"", -1};
    std::string out = Read();
    return {out, Wait()};
  }

  std::string base_, rootfs_, cgroup_root_;
  ContainerSpec spec_;
  StartedContainer started_;
  unique_fd out_;
  unique_fd pty_master_, pty_slave_;
};

TEST_F(ContainerRootTest, RootInsideIsTheMappedHostUid) {
  ASSERT_TRUE(Start({"/bin/sh", "-c", "id -u; cat /proc/self/uid_map; exec sleep 30"}));
  std::string out = Read(" 65536\n");
  EXPECT_EQ(out.substr(0, 2), "0\n") << out;
  EXPECT_NE(out.find("0     300000      65536"), std::string::npos) << out;
  auto status = ReadFileToString("/proc/" + std::to_string(started_.pid) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("\nUid:\t300000\t300000\t300000\t300000\n"), std::string::npos) << *status;
  // And it is PID 1 of its own pid namespace.
  auto ns = ReadFileToString("/proc/" + std::to_string(started_.pid) + "/status");
  EXPECT_NE(ns->find("\nNSpid:\t" + std::to_string(started_.pid) + "\t1\n"), std::string::npos);
}

TEST_F(ContainerRootTest, HostnameAndContainerInterface) {
  spec_.config.hostname = "jailbox";
  auto [out, status] = Run({"/bin/sh", "-c",
                            "hostname; cat /run/host/container-manager; echo $container; "
                            "echo $$"});
  EXPECT_EQ(out, "jailbox\ninitos\ninitos\n1\n");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(ContainerRootTest, OnlyFdsZeroToTwoInside) {
  // ls itself opens the directory: 3 is its own.
  auto [out, status] = Run({"/bin/ls", "/proc/self/fd"});
  EXPECT_EQ(out, "0\n1\n2\n3\n");
  EXPECT_EQ(status, 0);
}

// A pty slave as the console: the jail's controlling terminal, and
// /dev/console is that same terminal.
TEST_F(ContainerRootTest, PtyConsoleIsTheControllingTerminalAndDevConsole) {
  UsePtyConsole();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(Start({"/bin/sh", "-c",
                     "test -t 0 && echo stdin-is-a-tty; echo via-console > /dev/console; "
                     "cut -d' ' -f7 /proc/self/stat | grep -qv '^0$' && echo has-ctty; "
                     "echo end"}));
  EXPECT_EQ(Read("end\n"), "stdin-is-a-tty\nvia-console\nhas-ctty\nend\n");
  EXPECT_EQ(Wait(), 0);
}

TEST_F(ContainerRootTest, ConfiguredUserAndGroup) {
  spec_.config.user = "app";
  spec_.config.group = "";
  auto [out, status] = Run({"/bin/sh", "-c", "id -u; id -g"});
  EXPECT_EQ(out, "1000\n1000\n");
  EXPECT_EQ(status, 0);
}

// Each probe prints NAME:rc=N plus the tool's message; every one must fail
// the way the kernel is expected to refuse it.
TEST_F(ContainerRootTest, EscapeProbesFail) {
  const std::string script =
      "mount -t tmpfs none /tmp 2>&1; echo mount:rc=$?\n"
      "mknod /tmp/mem c 1 1 2>&1; echo mknod:rc=$?\n"
      "echo b 2>&1 > /proc/sysrq-trigger; echo sysrq:rc=$?\n"
      "echo x 2>&1 > /proc/sys/kernel/hostname; echo procsys:rc=$?\n"
      "ls /dev/mem 2>&1; echo devmem:rc=$?\n"
      "ls /dev/kmsg 2>&1; echo kmsg:rc=$?\n"
      "ls /dev/sda /dev/vda 2>&1; echo disk:rc=$?\n"
      "kill -0 " +
      std::to_string(::getpid()) +
      " 2>&1; echo killhost:rc=$?\n"
      "reboot -f 2>&1; echo reboot:rc=$?\n"
      "touch /sys/x 2>&1; echo sys:rc=$?\n"
      "cat /proc/kcore | wc -c; echo kcore:rc=$?\n"
      "echo done\n";
  auto [out, status] = Run({"/bin/sh", "-c", script});
  // NAME -> "rc=N" and the messages printed before it.
  std::map<std::string, std::pair<std::string, std::string>> probes;
  std::istringstream lines(out);
  std::string line, text;
  while (std::getline(lines, line)) {
    size_t rc = line.find(":rc=");
    if (rc == std::string::npos) {
      text += line + "\n";
      continue;
    }
    probes[line.substr(0, rc)] = {line.substr(rc + 1), text};
    text.clear();
  }
  auto failed_with = [&](const std::string& name, const std::string& message) {
    auto it = probes.find(name);
    if (it == probes.end()) return ::testing::AssertionFailure() << name << " did not run";
    if (it->second.first == "rc=0") return ::testing::AssertionFailure() << name << " succeeded";
    if (it->second.second.find(message) == std::string::npos)
      return ::testing::AssertionFailure() << name << ": " << it->second.second;
    return ::testing::AssertionSuccess();
  };
  EXPECT_TRUE(failed_with("mount", "ermission denied")) << out;
  EXPECT_TRUE(failed_with("mknod", "Operation not permitted")) << out;
  EXPECT_TRUE(failed_with("sysrq", "")) << out;
  EXPECT_TRUE(failed_with("procsys", "Read-only file system")) << out;
  EXPECT_TRUE(failed_with("devmem", "No such file or directory")) << out;
  EXPECT_TRUE(failed_with("kmsg", "No such file or directory")) << out;
  EXPECT_TRUE(failed_with("disk", "No such file or directory")) << out;
  EXPECT_TRUE(failed_with("killhost", "No such process")) << out;
  EXPECT_TRUE(failed_with("reboot", "")) << out;
  EXPECT_TRUE(failed_with("sys", "Read-only file system")) << out;
  EXPECT_NE(out.find("\n0\nkcore:rc=0"), std::string::npos) << out;  // /dev/null behind it
  EXPECT_NE(out.find("done\n"), std::string::npos) << out;
  EXPECT_TRUE(WIFEXITED(status)) << status;
}

// A mount target through an image symlink pointing outside lands inside
// the rootfs; the host path it names stays untouched.
TEST_F(ContainerRootTest, MountTargetThroughEscapingSymlinkStaysInside) {
  std::string host_dir = base_ + "/host";
  fs::create_directories(host_dir);
  fs::create_directories(rootfs_ + host_dir);
  fs::create_directory_symlink("/../.." + host_dir, rootfs_ + "/data");
  for (std::string p = rootfs_ + host_dir; p != rootfs_; p = fs::path(p).parent_path())
    ASSERT_EQ(::chown(p.c_str(), kHostBase, kHostBase), 0);
  std::string src = base_ + "/src";
  fs::create_directories(src);
  ASSERT_TRUE(WriteStringToFile(src + "/marker", "from the host source\n").ok());
  ASSERT_EQ(::chmod(src.c_str(), 0755), 0);
  spec_.config.mounts = {{JailMount::Type::kBind, src, "/data/mnt", true, ""}};
  auto [out, status] =
      Run({"/bin/sh", "-c", "cat " + host_dir + "/mnt/marker; touch /data/mnt/x 2>&1; echo rc=$?"});
  EXPECT_NE(out.find("from the host source\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Read-only file system\nrc=1"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(host_dir + "/mnt"));
  EXPECT_TRUE(fs::is_directory(rootfs_ + host_dir + "/mnt"));
}

TEST_F(ContainerRootTest, PrivilegedJailIsRealRootInItsOwnNamespaces) {
  spec_.config.kind = JailKind::kPrivileged;
  spec_.config.hostname = "priv";
  ASSERT_TRUE(Start({"/bin/sh", "-c", "hostname; id -u; echo $$; exec sleep 30"}));
  std::string out = Read("\n1\n");
  EXPECT_EQ(out, "priv\n0\n1\n");
  auto status = ReadFileToString("/proc/" + std::to_string(started_.pid) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("\nUid:\t0\t0\t0\t0\n"), std::string::npos);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_NE(std::string(host), "priv");
}

// Hardware goes only to privileged jails, and only what is named: the
// granted node plus the default set, never the rest of the host's /dev.
TEST_F(ContainerRootTest, APrivilegedJailGetsTheGrantedDevicesAndNoOthers) {
  ASSERT_EQ(::access("/dev/loop-control", F_OK), 0) << "the test grants /dev/loop-control";
  spec_.config.kind = JailKind::kPrivileged;
  spec_.config.devices = {"/dev/loop-control"};
  auto [out, status] = Run({"/bin/sh", "-c", "ls /dev"});
  EXPECT_EQ(status, 0) << out;
  std::set<std::string> names;
  std::istringstream in(out);
  for (std::string n; in >> n;) names.insert(n);
  for (const char* want : {"loop-control", "null", "zero", "full", "random", "urandom", "tty"})
    EXPECT_TRUE(names.count(want)) << want << " missing from the jail's /dev: " << out;
  for (const char* host_only : {"loop0", "mem", "kmsg", "vda", "sda", "port"})
    EXPECT_FALSE(names.count(host_only)) << host_only << " reached the jail: " << out;
}

TEST_F(ContainerRootTest, ReaperIsPid1AndRunsTheChain) {
  auto self = SealedSelf();
  ASSERT_TRUE(self.ok()) << self.error().str();
  // SealedSelf copies the running binary (root_tests); the reaper needs initos.
  unique_fd initos(::open(INITOS_BINARY, O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(initos.ok());
  spec_.reaper_exec_fd = initos.get();
  spec_.config.reaper = true;
  spec_.config.helpers = {{"/bin/env", "HELPER=yes"}};
  auto [out, status] =
      Run({"/bin/sh", "-c", "echo $$ $HELPER; cat /proc/1/cmdline | tr '\\0' ' '"});
  EXPECT_EQ(out, "2 yes\ninitos reap -- /bin/env HELPER=yes /bin/sh -c " +
                     std::string("echo $$ $HELPER; cat /proc/1/cmdline | tr '\\0' ' '") + " ");
  EXPECT_EQ(status, 0);
}

TEST_F(ContainerRootTest, SealedSelfCannotBeWritten) {
  auto self = SealedSelf();
  ASSERT_TRUE(self.ok()) << self.error().str();
  EXPECT_EQ(::write(self->get(), "x", 1), -1);
  std::string path = "/proc/self/fd/" + std::to_string(self->get());
  // Reopening through /proc (the runc CVE-2019-5736 way) still cannot write.
  unique_fd w(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(::write(w.get(), "x", 1), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::ftruncate(w.get(), 0), -1);
  EXPECT_EQ(errno, EPERM);
}

TEST_F(ContainerRootTest, ExecSeesTheJailsHostnameUidAndPidNamespace) {
  spec_.config.hostname = "execbox";
  ASSERT_TRUE(Start({"/bin/sh", "-c", "echo up; exec sleep 30"}));
  ASSERT_EQ(Read("up\n"), "up\n");
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  unique_fd r(fds[0]), w(fds[1]);
  ExecSpec e;
  e.container = &spec_;
  e.jail_pidfd = started_.pidfd.get();
  e.argv = {"/bin/sh", "-c",
            "hostname; id -u; cat /proc/self/uid_map | wc -l; ps -o pid,comm | grep sleep"};
  e.stdout_fd = e.stderr_fd = w.get();
  auto pid = ExecInContainer(e);
  w.reset();
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  auto out = ReadFdToString(r.get());
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "execbox\n0\n1\n    1 sleep\n");
  EXPECT_EQ(status, 0);
  auto host_status = ReadFileToString("/proc/" + std::to_string(started_.pid) + "/cgroup");
  ASSERT_TRUE(host_status.ok());
  EXPECT_NE(host_status->find("/initos-test/" + spec_.config.name), std::string::npos);
}

// Exec joins the leaf cgroup the jail's PID 1 moved itself into (what
// systemd does with init.scope), and a signal to the returned pid reaches
// the program inside.
TEST_F(ContainerRootTest, ExecJoinsTheJailInitsLeafCgroupAndGetsSignals) {
  ASSERT_TRUE(Start({"/bin/sh", "-c",
                     "mkdir /sys/fs/cgroup/init.scope && "
                     "echo $$ > /sys/fs/cgroup/init.scope/cgroup.procs && echo moved; "
                     "exec sleep 30"}));
  ASSERT_EQ(Read("moved\n"), "moved\n");
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  unique_fd r(fds[0]), w(fds[1]);
  ExecSpec e;
  e.container = &spec_;
  e.jail_pidfd = started_.pidfd.get();
  e.argv = {"/bin/sh", "-c", "grep ^0:: /proc/self/cgroup; exec sleep 30"};
  e.stdout_fd = e.stderr_fd = w.get();
  auto pid = ExecInContainer(e);
  w.reset();
  ASSERT_TRUE(pid.ok()) << pid.error().str();
  std::string out;
  char buf[256];
  while (out.find('\n') == std::string::npos) {
    ssize_t n = ::read(r.get(), buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(out, "0::/init.scope\n");
  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << status;
}

TEST_F(ContainerRootTest, DelegatedCgroupIsTheJailsRoot) {
  auto [out, status] = Run({"/bin/sh", "-c",
                            "cat /proc/self/cgroup | grep ^0::; mkdir /sys/fs/cgroup/child && "
                            "echo made"});
  EXPECT_NE(out.find("0::/\n"), std::string::npos) << out;
  EXPECT_NE(out.find("made\n"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(spec_.cgroup_parent + "/" + spec_.config.name));  // cleaned up
}

TEST_F(ContainerRootTest, MemoryMaxKillsAHog) {
  if (cgroup_root_ != "/sys/fs/cgroup" || !HasControllers(cgroup_root_, {"memory"})) {
    INITOS_KERNEL_FEATURE_MISSING() << "needs cgroup2 at /sys/fs/cgroup with the memory "
                                       "controller (hybrid host); runs in the QEMU guest";
  }
  spec_.config.limits.memory_max = 32ull << 20;
  ASSERT_TRUE(Start({"/bin/sh", "-c", "a=$(head -c 200m /dev/zero | tr '\\0' x); echo survived"}));
  std::string out = Read();
  auto events = ReadFileToString(started_.cgroup + "/memory.events");
  int status = Wait();
  EXPECT_EQ(out.find("survived"), std::string::npos) << out;
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->find("oom_kill 0\n"), std::string::npos) << *events;
  EXPECT_TRUE(WIFSIGNALED(status) || WEXITSTATUS(status) != 0) << status;
}

TEST_F(ContainerRootTest, PidsMaxStopsAForkBomb) {
  if (cgroup_root_ != "/sys/fs/cgroup" || !HasControllers(cgroup_root_, {"pids"})) {
    INITOS_KERNEL_FEATURE_MISSING() << "needs cgroup2 at /sys/fs/cgroup with the pids "
                                       "controller (hybrid host); runs in the QEMU guest";
  }
  spec_.config.limits.pids_max = 10;
  // busybox sh gives up on the first fork pids.max refuses.
  ASSERT_TRUE(Start({"/bin/sh", "-c", "for i in $(seq 40); do sleep 3 & done 2>&1; wait"}));
  std::string out = Read();
  auto events = ReadFileToString(started_.cgroup + "/pids.events");
  auto peak = ReadFileToString(started_.cgroup + "/pids.peak");  // 6.1+
  Wait();
  EXPECT_NE(out.find("can't fork: Resource temporarily unavailable"), std::string::npos) << out;
  ASSERT_TRUE(events.ok());
  if (peak.ok()) EXPECT_LE(std::stoi(*peak), 10);
  EXPECT_EQ(events->find("max 0\n"), std::string::npos) << *events;
}

// The probes of RunProbesIfAsked, run inside an unprivileged jail.
class ContainerProbeTest : public ContainerRootTest {
 protected:
  // The host's libraries, read-only: this test binary runs inside.
  std::vector<JailMount> HostLibs() {
    std::vector<JailMount> libs;
    for (const char* d : {"/lib", "/lib64", "/usr/lib"})
      if (::access(d, F_OK) == 0) libs.push_back({JailMount::Type::kBind, d, d, true, ""});
    return libs;
  }
  std::map<std::string, int> RunProbes() {
    std::vector<JailMount> libs = HostLibs();
    std::string self = fs::read_symlink("/proc/self/exe").string();
    libs.push_back({JailMount::Type::kBind, self, "/probe", true, ""});
    spec_.config.mounts = libs;
    spec_.config.env["INITOS_JAIL_PROBE"] = std::to_string(::getpid());
    auto [out, status] = Run({"/probe"});
    EXPECT_EQ(status, 0) << out;
    std::map<std::string, int> got;
    std::istringstream in(out);
    std::string name;
    int err;
    while (in >> name >> err) got[name] = err;
    EXPECT_FALSE(got.empty()) << out;
    return got;
  }
};

TEST_F(ContainerProbeTest, KernelAndHostEscapesFailWithTheExpectedErrno) {
  auto got = RunProbes();
  std::map<std::string, std::vector<int>> want = {
      {"raw_socket", {EPERM}},
      {"packet_socket", {EPERM}},
      {"mount", {EPERM}},
      {"mknod", {EPERM}},
      // ENOSYS: a kernel built without modules or kexec.
      {"init_module", {EPERM, ENOSYS}},
      {"finit_module", {EPERM, ENOSYS}},
      {"kexec_load", {EPERM, ENOSYS}},
      {"reboot", {EPERM}},
      {"open_by_handle_at", {EPERM}},
      {"kill_host", {ESRCH}},
      {"ptrace_host", {ESRCH, EPERM}},
      {"open_host_exe", {ENOENT}},  // the host's processes are not in its /proc
      {"open_self_exe_rw", {EROFS, ETXTBSY, EACCES}},
      {"dev_mem", {ENOENT}},
      {"dev_kmsg", {ENOENT}},
      // ENOENT only where the kernel has no magic SysRq at all.
      {"sysrq", ::access("/proc/sysrq-trigger", F_OK) == 0 ? std::vector<int>{EROFS, EACCES}
                                                           : std::vector<int>{ENOENT}},
      {"proc_sys", {EROFS, EACCES}},
      {"sys", {EROFS, EACCES}},
      // Its own pid namespace belongs to the jail's user namespace, not the
      // nested one: no fresh, unmasked /proc.
      {"nested_proc_mount", {EPERM}},
  };
  for (const auto& [name, errnos] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name << " did not run";
    EXPECT_NE(it->second, 0) << name << " succeeded inside the jail";
    EXPECT_TRUE(std::find(errnos.begin(), errnos.end(), it->second) != errnos.end())
        << name << " failed with " << strerrorname_np(it->second);
  }
}

// With the default seccomp policy these fail with the errno its rule for
// the syscall gives (keyctl, for one, would work without it).
TEST_F(ContainerProbeTest, SeccompBlocksTheKernelAttackSurface) {
  SeccompPolicy policy = DefaultSeccompPolicy();
  ASSERT_FALSE(policy.rules.empty());
  auto errno_for = [&](const std::string& syscall) {
    for (const auto& r : policy.rules)
      if (r.syscall == syscall && r.action.kind == SeccompAction::Kind::kErrno)
        return r.action.errno_value;
    return -1;
  };
  spec_.config.seccomp = "default";
  UsePtyConsole();  // TIOCSTI gets a terminal (its controlling one) to push into
  ASSERT_FALSE(HasFatalFailure());
  auto got = RunProbes();
  int tiocsti = -1;
  for (const auto& r : policy.rules)
    for (const auto& a : r.args)
      if (r.syscall == "ioctl" && a.index == 1 && a.value == TIOCSTI &&
          r.action.kind == SeccompAction::Kind::kErrno)
        tiocsti = r.action.errno_value;
  ASSERT_GT(tiocsti, 0) << "the default policy has no errno rule for ioctl TIOCSTI";
  EXPECT_EQ(got["tiocsti"], tiocsti);
  for (const char* name : {"keyctl", "bpf", "perf_event_open", "userfaultfd"}) {
    int want = errno_for(name);
    ASSERT_GT(want, 0) << "the default policy has no errno rule for " << name;
    EXPECT_EQ(got[name], want) << name;
  }
}

// A setuid-root binary of the image (owned by the jail's root) run by an
// unprivileged user inside: no_new_privs (the default) keeps its euid; the
// same file without no_new_privs does change it, so the test can fail.
TEST_F(ContainerProbeTest, ASetuidBinaryGainsNothingUnderNoNewPrivs) {
  std::string probe = rootfs_ + "/bin/suid-probe";
  fs::copy_file(fs::read_symlink("/proc/self/exe"), probe);
  ASSERT_EQ(::chown(probe.c_str(), kHostBase, kHostBase), 0);
  ASSERT_EQ(::chmod(probe.c_str(), 04755), 0);
  spec_.config.mounts = HostLibs();
  spec_.config.user = "app";
  spec_.config.group = "app";
  spec_.config.env["INITOS_JAIL_PROBE_EUID"] = "1";
  auto [out, status] = Run({"/bin/suid-probe"});
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "euid 1000\n");
  spec_.config.no_new_privileges = false;
  auto [out2, status2] = Run({"/bin/suid-probe"});
  EXPECT_EQ(status2, 0) << out2;
  EXPECT_EQ(out2, "euid 0\n") << "the control: without no_new_privs the setuid bit works";
}

}  // namespace
}  // namespace initos
