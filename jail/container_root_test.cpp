// Container jails started for real on a busybox rootfs: what the kernel
// shows from inside and outside. cgroup limits need a cgroup2 hierarchy
// with the memory and pids controllers (the QEMU guest of
// scripts/root-tests-in-vm.sh); on a hybrid-cgroup host the jails live
// under /sys/fs/cgroup/unified and the limit tests skip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "base/file.h"
#include "base/spawn.h"
#include "base/testing/require.h"
#include "base/unique_fd.h"
#include "jail/container.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
constexpr uint32_t kHostBase = 300000;

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
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return ::testing::AssertionFailure() << "pipe";
    out_.reset(fds[0]);
    unique_fd w(fds[1]);
    spec_.console_fd = w.get();
    auto s = StartContainer(spec_);
    spec_.console_fd = -1;
    if (!s.ok()) return ::testing::AssertionFailure() << s.error().str();
    started_ = std::move(*s);
    return ::testing::AssertionSuccess();
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
  ASSERT_TRUE(
      Start({"/bin/sh", "-c", "for i in $(seq 40); do sleep 3 & done 2>&1; wait; echo finished"}));
  std::string out = Read();
  auto events = ReadFileToString(started_.cgroup + "/pids.events");
  Wait();
  EXPECT_NE(out.find("fork"), std::string::npos) << out;
  EXPECT_NE(out.find("finished"), std::string::npos) << out;
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->find("max 0\n"), std::string::npos) << *events;
}

}  // namespace
}  // namespace initos
