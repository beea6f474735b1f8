// The Debian bundle as a VM jail (issue 11): `initos jail run CONFIG` on
// the host verifies the signed Debian bundle, starts QEMU confined (TCG
// here: nested KVM is too slow to boot, see jail/kvm_probe.h), the guest's
// initos verifies it again and hands over to systemd, which reaches
// multi-user.target on the jail's console (run's stdout). SIGTERM to run
// stops the jail: QMP system_powerdown presses the ACPI power button (the
// guest initramfs loads button and evdev); the guest's power button
// watcher (boot/guest/guest_power_key.h; the test's Debian tree has no
// dbus and so no systemd-logind to act on it) asks systemd to power off,
// systemd stops its units and the kernel powers down: QEMU exits 0 before
// the stop timeout, and no process of QEMU's uid is left.
//
// Both machines: microvm is the default (no PCI bus, no legacy devices),
// q35 is what passthrough needs; under TCG here both reach multi-user in
// 12-17 s (the guest's userspace dominates, not the machine).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "qemu-tests/debian_fixture.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kPoolStart = 330000;

// Processes whose real uid is `uid` (QEMU runs as the pool's first uid).
std::vector<pid_t> ProcessesOfUid(uid_t uid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    pid_t pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0) continue;
    auto status = ReadFileToString(e.path().string() + "/status");
    if (!status.ok()) continue;
    size_t at = status->find("\nUid:\t");
    if (at != std::string::npos && std::atoi(status->c_str() + at + 6) == static_cast<int>(uid))
      out.push_back(pid);
  }
  return out;
}

// `initos jail run CONFIG` with stdout (the consoles) and stderr in files.
pid_t StartRun(const std::string& config, const std::string& out, const std::string& err) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int n = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (o < 0 || e < 0 || n < 0) ::_exit(126);
    ::dup2(n, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execl(INITOS_BINARY, INITOS_BINARY, "jail", "run", config.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

std::string Text(const std::string& path) {
  auto t = ReadFileToString(path);
  return t.ok() ? *t : "";
}

// Polls `path` until it contains `what`, or `seconds` pass; false then.
bool WaitForText(const std::string& path, const std::string& what, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (Text(path).find(what) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

// waitpid with a timeout; the status, or -1 when the child is still there.
int WaitExit(pid_t pid, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return -1;
}

void BootDebianAndStop(const std::string& machine) {
  ASSERT_EQ(SkipReason(), "");
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  const std::string dir = TestWorkDir(), kernel = FindKernel();
  ASSERT_FALSE(kernel.empty());

  // The bundle as a file in a labelled ext4 on a read-only loop device,
  // as on a real host (rootfs = "LABEL=fs:/file"); the label is unique to
  // this process so parallel tests never find each other's.
  const std::string label = "vmdeb" + std::to_string(::getpid() % 100000);
  fs::create_directories(dir + "/files");
  fs::copy_file(sh.bundle, dir + "/files/debian.bundle");
  std::string error;
  qemu::Run({"mkfs.ext4", "-q", "-F", "-L", label, "-d", dir + "/files", dir + "/img.ext4", "200M"},
            &error);
  ASSERT_EQ(error, "");
  fs::remove_all(dir + "/files");
  std::string dev = qemu::Run({"losetup", "-f", "--show", "-r", dir + "/img.ext4"}, &error);
  ASSERT_EQ(error, "");
  dev = dev.substr(0, dev.find('\n'));
  struct Cleanup {
    std::string dev;
    pid_t run = -1;
    ~Cleanup() {
      if (run > 0 && ::kill(run, SIGKILL) == 0) ::waitpid(run, nullptr, 0);
      std::string ignored;
      // `initos jail run` leaves its image filesystem mounted (one more
      // mount per run); all go, then the loop device.
      for (int i = 0; i < 20 && ::umount2("/run/initos-jails/vmdeb/image-fs", MNT_DETACH) == 0;
           ++i) {
      }
      qemu::Run({"losetup", "-d", dev}, &ignored);
    }
  } cleanup{dev};

  const std::string config = dir + "/jails.toml";
  ASSERT_TRUE(WriteStringToFile(config, "[rootfs]\nkeys = [\"" + sh.signing_pub +
                                            "\"]\n"
                                            "[jails]\nsocket = \"" +
                                            dir + "/jails.sock\"\nuid-pool-start = " +
                                            std::to_string(kPoolStart) +
                                            "\n"
                                            "[[jail]]\nname = \"vmdeb\"\nkind = \"vm\"\n"
                                            "rootfs = \"LABEL=" +
                                            label +
                                            ":/debian.bundle\"\nrootfs-name = \"debian\"\n"
                                            "command = [\"/sbin/init\"]\nkernel = \"" +
                                            kernel + "\"\naccel = \"tcg\"\nmachine = \"" + machine +
                                            "\"\n"
                                            "memory = \"1G\"\nvsock = false\n"
                                            "restart = \"never\"\nstop-timeout-ms = 60000\n")
                  .ok());
  const std::string out = dir + "/console.txt", err = dir + "/run.txt";
  const auto t0 = Clock::now();
  cleanup.run = StartRun(config, out, err);
  ASSERT_GT(cleanup.run, 0);
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  ASSERT_TRUE(WaitForText(out, "Reached target", 420) && WaitForText(out, "Multi-User System", 420))
      << Text(err) << Text(out);
  const double up = seconds();
  std::vector<pid_t> qemu = ProcessesOfUid(kPoolStart);
  ASSERT_EQ(qemu.size(), 1u) << Text(err);
  EXPECT_NE(Text(err).find("verified (every block"), std::string::npos) << Text(err);

  // Stop: run's SIGTERM stops its jails (QMP system_powerdown).
  ASSERT_EQ(::kill(cleanup.run, SIGTERM), 0);
  const double stop_at = seconds();
  int status = WaitExit(cleanup.run, 120);
  ASSERT_NE(status, -1) << "initos jail run still running\n" << Text(err) << Text(out);
  cleanup.run = -1;
  const double stopped = seconds() - stop_at;
  // The guest powered itself down on the button: systemd's shutdown, the
  // kernel's power-off, QEMU's SHUTDOWN event from the guest; no QMP quit.
  const std::string console = Text(out), log = Text(err);
  EXPECT_NE(log.find("machine " + machine + ", 1 cpu, 1G"), std::string::npos) << log;
  EXPECT_NE(log.find("stopping with an ACPI powerdown (QMP)"), std::string::npos) << log;
  EXPECT_NE(console.find("power button pressed"), std::string::npos) << console;
  EXPECT_NE(console.find("Stopped systemd-journald.service"), std::string::npos) << console;
  EXPECT_NE(console.find("reboot: Power down"), std::string::npos) << console;
  EXPECT_EQ(log.find("did not power down"), std::string::npos) << log;
  EXPECT_NE(log.find("\"guest\": true"), std::string::npos) << log;
  EXPECT_NE(log.find("exited with status 0 (stopped)"), std::string::npos) << log;
  EXPECT_LT(stopped, 60) << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << Text(err);
  EXPECT_NE(::kill(qemu[0], 0), 0) << "QEMU " << qemu[0] << " is still there";
  EXPECT_TRUE(ProcessesOfUid(kPoolStart).empty());
  std::printf(
      "[ figures ] Debian VM jail (TCG, %s, 1 cpu, 1G): multi-user.target %.1f s "
      "after `initos jail run`; powered down %.1f s after SIGTERM\n",
      machine.c_str(), up, stopped);
}

// microvm: virtio-mmio, the ACPI power button through GED.
TEST(VmJailDebianTest, ReachesMultiUserAndPowersDownWhenStopped) {
  BootDebianAndStop("microvm");
}

// q35: PCI, the fixed-feature ACPI power button, and an AT keyboard that
// also reports KEY_POWER (the watcher reads both).
TEST(VmJailDebianTest, Q35ReachesMultiUserAndPowersDownWhenStopped) {
  BootDebianAndStop("q35");
}

}  // namespace
}  // namespace initos::qemu
