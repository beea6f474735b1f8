// End to end of issue 10: PID 1 in jail mode boots from a signed disk,
// starts the SSH sidecar and two unprivileged jails from signed bundles:
// Debian with systemd (veth network) and a busybox app behind initos'
// reaper and a helper. Over SSH into the sidecar: `initos jail list`, logs,
// exec, the app killed and restarted by its policy, ping over the veth,
// then poweroff stops both jails cleanly and QEMU exits 0.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <iostream>
#include <regex>

#include "base/file.h"
#include "qemu-tests/debian_fixture.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

// A busybox tree: the app's rootfs. /bin/helper is the chain's helper: it
// says who it runs as and execs the rest of its arguments.
std::string BuildBoxBundle(const Shared& sh, const std::string& dir) {
  std::string root = dir + "/box-root";
  fs::remove_all(root);
  for (const char* d : {"/bin", "/dev", "/proc", "/sys", "/tmp", "/run", "/etc"})
    fs::create_directories(root + d);
  fs::copy_file("/bin/busybox", root + "/bin/busybox");
  for (const char* app : {"sh", "sleep", "echo", "kill", "pidof", "id", "cat", "hostname", "ls",
                          "ps", "mount", "mknod", "grep"})
    fs::create_symlink("busybox", root + "/bin/" + app);
  EXPECT_TRUE(WriteStringToFile(root + "/bin/helper",
                                "#!/bin/sh\necho \"helper ran as uid $(id -u)\"\nexec \"$@\"\n")
                  .ok());
  ::chmod((root + "/bin/helper").c_str(), 0755);
  EXPECT_TRUE(WriteStringToFile(root + "/etc/passwd", "root:x:0:0:root:/:/bin/sh\n").ok());
  std::string bundle = dir + "/box.bundle";
  std::string err;
  Run({INITOS_BINARY, "image", "build", "--rootfs", root, "--key", sh.dir + "/dev/signing.key",
       "--name", "box", "--version", "1", "-o", bundle},
      &err);
  EXPECT_EQ(err, "");
  return bundle;
}

std::string JailConfig(const Shared& sh) {
  std::string modules = Modules();  // modules = [...]\n: veth added for the Debian jail
  modules.insert(modules.rfind(']'), ", \"veth\"");
  return "[init]\nmode = \"jails\"\nfailure-delay-s = 0\n" + modules +
         "[rootfs]\nimage = \"PARTLABEL=debian\"\nname = \"debian\"\n"
         "keys = [\"/etc/initos/keys/dev.pub\"]\non-failure = \"poweroff\"\n"
         "[state]\ndevice = \"LABEL=" +
         std::string(kStateLabel) +
         "\"\n"
         "[sidecar]\nenable = true\nauthorized-keys = [\"" +
         PublicKey(sh.ssh_key) +
         "\"]\n"
         "[[jail]]\nname = \"debian\"\nkind = \"unprivileged\"\nrootfs = \"PARTLABEL=debian\"\n"
         "rootfs-name = \"debian\"\ncommand = [\"/lib/systemd/systemd\"]\n"
         "stop-signal = \"SIGRTMIN+3\"\nstop-timeout-ms = 90000\nnetwork = \"veth\"\n"
         "host-address = \"10.88.0.1/30\"\naddresses = [\"10.88.0.2/30\"]\n"
         "gateway = \"10.88.0.1\"\n"
         // systemd-nspawn's default set: power inside the jail's own user
         // namespace only.
         "capabilities = [\"CHOWN\", \"DAC_OVERRIDE\", \"DAC_READ_SEARCH\", \"FOWNER\", "
         "\"FSETID\", \"IPC_OWNER\", \"KILL\", \"LEASE\", \"LINUX_IMMUTABLE\", \"MKNOD\", "
         "\"NET_BIND_SERVICE\", \"NET_BROADCAST\", \"NET_RAW\", \"NET_ADMIN\", \"SETGID\", "
         "\"SETFCAP\", \"SETPCAP\", \"SETUID\", \"SYS_ADMIN\", \"SYS_BOOT\", \"SYS_CHROOT\", "
         "\"SYS_NICE\", \"SYS_PTRACE\", \"SYS_RESOURCE\", \"SYS_TTY_CONFIG\", \"AUDIT_WRITE\"]\n"
         "[[jail]]\nname = \"box\"\nkind = \"unprivileged\"\nrootfs = \"PARTLABEL=box\"\n"
         "rootfs-name = \"box\"\nreaper = true\nhelpers = [[\"/bin/helper\"]]\n"
         "command = [\"/bin/sh\", \"-c\", \"echo app started; exec sleep 100000\"]\n"
         "restart = \"on-failure\"\nrestart-delay-ms = 500\n";
}

// Polls `cmd` over ssh until its output matches `pattern` (or time runs out).
std::string SshUntil(Qemu& vm, int port, const std::string& key, const std::string& cmd,
                     const std::string& pattern, int timeout_s) {
  auto start = std::chrono::steady_clock::now();
  std::string out;
  for (;;) {
    auto [code, o] = Ssh(port, key, cmd);
    out = o;
    if (std::regex_search(out, std::regex(pattern))) return out;
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_s) || !vm.Running())
      return out;
    Drain(vm);
  }
}

TEST(JailModeBoot, DebianAndABusyboxAppInJailsBesideTheSidecar) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  std::string box = BuildBoxBundle(sh, dir);
  Disk disk = MakeDisk(dir, {{"debian", sh.bundle}, {"box", box}});
  std::string initramfs = Initramfs(sh, dir, JailConfig(sh), {"veth"});
  ASSERT_FALSE(initramfs.empty());
  int port = FreePort();
  ASSERT_NE(port, 0);

  QemuOptions o = BootOptions(initramfs);
  o.disks = {disk.path};
  o.hostfwd = {{port, 22}};
  o.memory_mb = 1024;
  auto q = Qemu::Start(o);
  ASSERT_TRUE(q.ok()) << q.error().str();
  Qemu& vm = **q;
  ASSERT_TRUE(vm.WaitFor("stage rootfs done", kBootTimeout)) << vm.Tail();
  ASSERT_TRUE(vm.WaitForRegex(R"(jail debian started \(unprivileged, pid [0-9]+\))")) << vm.Tail();
  ASSERT_TRUE(vm.WaitForRegex(R"(jail box started \(unprivileged, pid [0-9]+\))")) << vm.Tail();
  ASSERT_GE(WaitForSsh(vm, port, sh.ssh_key, 180), 0) << "no ssh login\n" << vm.Tail();

  auto [c1, list] = Ssh(port, sh.ssh_key, "initos jail list");
  EXPECT_EQ(c1, 0) << list;
  EXPECT_TRUE(std::regex_search(list, std::regex(R"(debian +unprivileged +running)"))) << list;
  EXPECT_TRUE(std::regex_search(list, std::regex(R"(box +unprivileged +running)"))) << list;

  // The chain: reaper → helper → app, uid 0 inside (a mapped uid outside).
  std::string logs = SshUntil(vm, port, sh.ssh_key, "initos jail logs box", "app started", 60);
  EXPECT_NE(logs.find("helper ran as uid 0"), std::string::npos) << logs;
  EXPECT_NE(logs.find("app started"), std::string::npos) << logs;
  auto [c2, status] = Ssh(port, sh.ssh_key, "initos jail status box");
  EXPECT_EQ(c2, 0) << status;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(status, m, std::regex(R"(pid: ([0-9]+))"))) << status;
  auto [c3, uid] =
      Ssh(port, sh.ssh_key, "awk '/^Uid:/ {print $2}' /proc/" + m[1].str() + "/status");
  EXPECT_EQ(c3, 0) << uid;
  EXPECT_NE(uid, "0\n") << "the jail's PID 1 runs as host root";
  EXPECT_GE(std::atol(uid.c_str()), 100000) << uid;
  auto [c4, inside] = Ssh(port, sh.ssh_key, "initos jail exec box -- id -u");
  EXPECT_EQ(c4, 0) << inside;
  EXPECT_EQ(inside, "0\n");

  // Debian's systemd reaches multi-user.target inside its jail.
  auto [c5, running] = Ssh(port, sh.ssh_key,
                           "timeout 400 initos jail exec debian -- systemctl is-system-running "
                           "--wait; initos jail exec debian -- systemctl is-active "
                           "multi-user.target");
  EXPECT_TRUE(std::regex_search(running, std::regex("(running|degraded)\nactive\n"))) << running;
  // For docs/jails.md: how long the jail's systemd took to multi-user.
  auto [ca, analyze] = Ssh(port, sh.ssh_key, "initos jail exec debian -- systemd-analyze");
  std::cout << "jail debian: systemd-analyze: " << analyze;
  // Its default target (graphical.target in the image) pulls in multi-user.
  EXPECT_TRUE(std::regex_search(analyze, std::regex(R"(\.target reached after [0-9.]+m?s)")))
      << analyze;
  auto [c6, ping] = Ssh(port, sh.ssh_key, "ping -c 1 -W 5 10.88.0.2");
  EXPECT_EQ(c6, 0) << ping;

  // The app dies: on-failure restarts it.
  auto [c7, killed] =
      Ssh(port, sh.ssh_key, "initos jail exec box -- /bin/sh -c 'kill $(pidof sleep)'");
  // 137: the jail's init ended with the app and took this shell along.
  EXPECT_TRUE(c7 == 0 || c7 == 137) << c7 << killed;
  EXPECT_TRUE(vm.WaitForRegex(R"(jail box exited with status [0-9]+; restarting in 500 ms)"))
      << vm.Tail();
  EXPECT_TRUE(vm.WaitForRegex(R"(jail box started \(unprivileged, pid [0-9]+\))")) << vm.Tail();
  logs =
      SshUntil(vm, port, sh.ssh_key, "initos jail logs box", "app started[\\s\\S]*app started", 60);
  EXPECT_TRUE(std::regex_search(logs, std::regex("app started[\\s\\S]*app started"))) << logs;

  // Poweroff: jails stop in reverse order with their stop signals.
  Ssh(port, sh.ssh_key, "initos poweroff");
  EXPECT_TRUE(vm.WaitFor("stopping the jails", Seconds(60))) << vm.Tail();
  EXPECT_TRUE(vm.WaitForRegex(R"(jail box .*\(stopped\))", Seconds(60))) << vm.Tail();
  EXPECT_TRUE(vm.WaitForRegex(R"(jail debian .*\(stopped\))", Seconds(200))) << vm.Tail();
  auto code = vm.WaitExit(Seconds(120));
  ASSERT_TRUE(code.has_value()) << vm.Tail();
  EXPECT_EQ(*code, 0) << vm.Tail();
  // Debian logged its own shutdown, kept on the state partition.
  bool clean = false;
  std::string fsck = CheckState(disk, dir, &clean);
  EXPECT_TRUE(clean) << fsck;
  auto [c8, debian_log] =
      RunCapture({"debugfs", "-R", "cat /jails/logs/debian.log", dir + "/state-check.ext4"});
  EXPECT_TRUE(std::regex_search(debian_log, std::regex("(System Halt|Halting|halt)")))
      << debian_log.substr(debian_log.size() > 3000 ? debian_log.size() - 3000 : 0);
}

}  // namespace
}  // namespace initos::qemu
