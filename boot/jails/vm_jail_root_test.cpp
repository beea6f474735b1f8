// VM jails end to end on this host, through the supervisor PID 1 and
// `initos jail run` use: a signed busybox bundle verified on the host,
// QEMU (TCG: nested KVM hangs here) confined as an unprivileged uid, the
// guest's console in the jail's log, a stop over QMP, a tampered bundle
// refused before QEMU starts, a crashed guest restarted.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "base/file.h"
#include "base/log.h"
#include "base/supervision.h"
#include "base/testing/test_util.h"
#include "boot/jails/jail_mode.h"
#include "boot/jails/testing/fake_bundle_partition.h"
#include "boot/jails/testing/jail_loop.h"
#include "image/testing/test_bundles.h"
#include "jail/supervisor.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kPoolStart = 300000;

std::string Field(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      size_t v = line.find_first_not_of(" \t", name.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  return "";
}

// Processes running as host uid `uid` (QEMU's).
std::vector<pid_t> ProcessesOfUid(uid_t uid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (auto* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    auto status = ReadFileToString("/proc/" + std::string(e->d_name) + "/status");
    if (!status.ok()) continue;
    std::string u = Field(*status, "Uid");
    if (u.rfind(std::to_string(uid) + "\t", 0) == 0) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

class VmJailRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/qemu-system-x86_64", X_OK), 0) << "install qemu-system-x86";
    kernel_ = testutil::TestVmKernel();
    ASSERT_EQ(::access(kernel_.c_str(), R_OK), 0)
        << "no guest kernel " << kernel_ << ": set INITOS_QEMU_KERNEL to a bzImage with modules";
    dir_ = tmp_.path();
    // The guest's root: static busybox and its shell.
    ASSERT_TRUE(MakeDirs(dir_ + "/tree/bin").ok());
    fs::copy_file("/bin/busybox", dir_ + "/tree/bin/busybox");
    for (const char* app : {"sh", "echo", "sleep"})
      fs::create_symlink("busybox", dir_ + "/tree/bin/" + app);
    for (const char* d : {"proc", "sys", "dev", "tmp", "etc"})
      ASSERT_TRUE(MakeDirs(dir_ + "/tree/" + d).ok());
    testutil::WriteTestKeys(dir_, {"a"});
    testutil::BuildTestBundle(dir_, "tree", "os.bundle", "a", 2, 9);
    auto device = testutil::FakeBundlePartition(setup_.env, dir_, dir_ + "/os.bundle");
    ASSERT_TRUE(device.ok()) << device.error().str();
    config_.rootfs.keys = {dir_ + "/a.pub"};
    config_.jails.uid_pool_start = kPoolStart;
    config_.jails.socket = dir_ + "/jails.sock";
    JailConfig j;
    j.name = "vmbox";
    j.kind = JailKind::kVm;
    j.rootfs = "PARTLABEL=vmroot";
    j.rootfs_name = "testos";
    // Markers are computed at run time: the guest's initos may log the
    // command line it execs on the same console.
    j.command = {"/bin/sh", "-c", "echo VMJAIL-UP-$((6*7)); while :; do sleep 1; done"};
    j.vm.kernel = kernel_;
    j.vm.accel = "tcg";
    j.vm.memory = 256ull << 20;
    j.vm.vsock = false;  // no /dev/vhost-vsock on this host
    j.stop_timeout_ms = 3000;
    j.restart_delay_ms = 100;
    config_.jails.jails = {j};
  }

  std::string Bundle() const { return setup_.env.dev_dir + "/vdb1"; }

  void Start() {
    auto started = loop_.Start(config_, setup_);
    ASSERT_TRUE(started.ok()) << started.error().str();
    jails_ = &loop_.jails();
  }
  bool RunUntil(const std::function<bool()>& done, double seconds) {
    return loop_.RunUntil(done, seconds);
  }

  std::string Log() { return *jails_->LogText("vmbox"); }
  int Count(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }
  pid_t QemuPid() {
    auto s = jails_->StatusText("vmbox");
    return s.ok() ? std::atoi(Field(*s, "pid").c_str()) : 0;
  }
  void StopAndCheckNothingLeft() {
    pid_t pid = QemuPid();
    ASSERT_TRUE(jails_->Stop("vmbox").ok());
    EXPECT_TRUE(RunUntil([&] { return jails_->State("vmbox") == JailState::kStopped; }, 30))
        << JailStateName(jails_->State("vmbox")) << "\n"
        << Log();
    if (pid > 0) {
      EXPECT_NE(::kill(pid, 0), 0) << "QEMU " << pid << " still there";
    }
    EXPECT_TRUE(ProcessesOfUid(kPoolStart).empty());
  }

  testutil::TempDir tmp_;
  std::string dir_, kernel_;
  JailModeSetup setup_;
  Config config_;
  testutil::JailLoop loop_;
  JailSupervisor* jails_ = nullptr;  // loop_'s, once Start()ed
};

TEST_F(VmJailRootTest, BusyboxGuestPrintsRunsConfinedAndStopsViaQmp) {
  Start();
  ASSERT_EQ(jails_->State("vmbox"), JailState::kRunning) << *jails_->StatusText("vmbox");
  ASSERT_TRUE(RunUntil([&] { return Log().find("VMJAIL-UP-42") != std::string::npos; }, 180))
      << Log();
  pid_t pid = QemuPid();
  ASSERT_GT(pid, 0);
  auto status = ReadFileToString("/proc/" + std::to_string(pid) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(Field(*status, "Uid").rfind(std::to_string(kPoolStart) + "\t", 0), 0u)
      << Field(*status, "Uid");
  EXPECT_EQ(Field(*status, "Seccomp"), "2");
  EXPECT_EQ(Field(*status, "CapEff"), "0000000000000000");
  // Only its listed fds (console 0-2, QMP 3, bundle 4, kernel 5,
  // initramfs 6; QEMU moves the bundle into its fdset) and what QEMU made
  // itself: no other file of the host.
  std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  bool bundle_held = false;
  for (const auto& e : fs::directory_iterator(fd_dir)) {
    int fd = std::atoi(e.path().filename().c_str());
    std::string link = fs::read_symlink(e.path()).string();
    if (fd <= 2) {
      EXPECT_TRUE(link.starts_with("/dev/pts/")) << fd << " -> " << link;
      continue;
    }
    bundle_held = bundle_held || link == Bundle();
    EXPECT_TRUE(link.starts_with("socket:") || link.starts_with("anon_inode:") ||
                link.starts_with("pipe:") || link.starts_with("/memfd:") || link == Bundle() ||
                link == "/dev/urandom")
        << fd << " -> " << link;
  }
  EXPECT_TRUE(bundle_held) << "QEMU holds no fd of the verified bundle";
  // exec goes over the guest's vsock agent: without vsock it is refused.
  auto exec = jails_->Exec("vmbox", {"/bin/true"}, -1, -1, -1, nullptr);
  ASSERT_FALSE(exec.ok());
  EXPECT_NE(exec.error().str().find("vsock = false"), std::string::npos) << exec.error().str();
  auto text = jails_->StatusText("vmbox");
  EXPECT_EQ(Field(*text, "accel"), "tcg");
  EXPECT_EQ(Field(*text, "vsock"), "no");
  StopAndCheckNothingLeft();
}

TEST_F(VmJailRootTest, TamperedBundleIsRefusedBeforeQemuStarts) {
  {
    auto fd = OpenFile(Bundle(), O_RDWR);
    ASSERT_TRUE(fd.ok());
    const off_t at = 64 * 1024 + 1024 + 7;  // the EROFS superblock: signed only through verity
    char c;
    ASSERT_EQ(::pread(fd->get(), &c, 1, at), 1);
    c ^= 0x01;
    ASSERT_EQ(::pwrite(fd->get(), &c, 1, at), 1);
  }
  Start();
  EXPECT_EQ(jails_->State("vmbox"), JailState::kFailed);
  auto status = jails_->StatusText("vmbox");
  EXPECT_NE(Field(*status, "last").find("refusing to boot it"), std::string::npos) << *status;
  // No QEMU ever ran: no child at all, and nothing as QEMU's uid.
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_TRUE(ProcessesOfUid(kPoolStart).empty());
}

TEST_F(VmJailRootTest, GuestWhoseCommandExitsIsRestartedOnFailure) {
  config_.jails.jails[0].command = {"/bin/sh", "-c", "echo VMJAIL-ONCE-$((6*7)); exit 3"};
  config_.jails.jails[0].restart = RestartPolicy::kOnFailure;
  Start();
  ASSERT_EQ(jails_->State("vmbox"), JailState::kRunning) << *jails_->StatusText("vmbox");
  // The guest's PID 1 exits, the kernel panics, QEMU exits nonzero and the
  // policy starts it again: the marker twice.
  EXPECT_TRUE(RunUntil([&] { return Count(Log(), "VMJAIL-ONCE-42") >= 2; }, 300)) << Log();
  auto status = jails_->StatusText("vmbox");
  EXPECT_GE(std::atoi(Field(*status, "restarts").c_str()), 1) << *status;
  StopAndCheckNothingLeft();
}

// network = "tap": the supervisor makes the tap (host side addressed), QEMU
// gets its fd, and the tap is gone with QEMU.
TEST_F(VmJailRootTest, TapNetworkIsMadeForQemuAndGoesWithIt) {
  config_.jails.jails[0].network.kind = JailNetworkKind::kTap;
  config_.jails.jails[0].network.host_address = "10.250.77.1/30";
  const std::string sys = "/sys/class/net/tap-vmbox";
  ASSERT_NE(::access(sys.c_str(), F_OK), 0) << "a tap-vmbox exists already";
  Start();
  ASSERT_EQ(jails_->State("vmbox"), JailState::kRunning) << *jails_->StatusText("vmbox");
  ASSERT_TRUE(RunUntil([&] { return Log().find("VMJAIL-UP-42") != std::string::npos; }, 180))
      << Log();
  EXPECT_EQ(::access(sys.c_str(), F_OK), 0);
  auto addr = testutil::RunProgram({"ip", "-4", "addr", "show", "dev", "tap-vmbox"});
  EXPECT_NE(addr.out.find("10.250.77.1/30"), std::string::npos) << addr.out << addr.err;
  auto flags = ReadFileToString(sys + "/flags");
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(std::stoul(*flags, nullptr, 16) & 0x1) << "tap is not up: " << *flags;
  StopAndCheckNothingLeft();
  EXPECT_NE(::access(sys.c_str(), F_OK), 0) << "the tap outlived QEMU";
}

// devices (VFIO passthrough): the device must leave its host driver for
// vfio-pci before QEMU starts; without an IOMMU (this host) the start is
// refused naming VFIO, and no QEMU ever runs.
TEST_F(VmJailRootTest, PassthroughWithoutAnIommuIsRefusedBeforeQemu) {
  config_.jails.jails[0].vm.machine = "q35";
  config_.jails.jails[0].devices = {"0000:00:01.0"};
  config_.jails.jails[0].restart = RestartPolicy::kNever;
  Start();
  auto status = jails_->StatusText("vmbox");
  ASSERT_TRUE(status.ok());
  if (fs::exists("/sys/kernel/iommu_groups/0")) {
    // A host with an IOMMU: the jail may start; this test only covers the
    // refusal, so stop it again.
    StopAndCheckNothingLeft();
    return;
  }
  EXPECT_NE(jails_->State("vmbox"), JailState::kRunning) << *status;
  EXPECT_NE(Field(*status, "last").find("VFIO"), std::string::npos) << *status;
  EXPECT_TRUE(ProcessesOfUid(kPoolStart).empty());
}

// `initos jail run --once` with a VM jail from a TOML config (accel auto): the bundle
// in a labelled ext4 filesystem on a loop device (LABEL=x:/file, as on a
// real host), the guest prints and powers off, QEMU exits 0, run ends 0.
TEST_F(VmJailRootTest, InitosJailRunBootsAVmJailUntilItPowersOff) {
  const std::string img = dir_ + "/imgs.ext4", files = dir_ + "/imgs";
  ASSERT_TRUE(MakeDirs(files).ok());
  fs::copy_file(dir_ + "/os.bundle", files + "/os.bundle");
  auto mkfs =
      testutil::RunProgram({"mkfs.ext4", "-q", "-F", "-L", "h3vmimgs", "-d", files, img, "32M"});
  ASSERT_EQ(mkfs.status, 0) << mkfs.err;
  auto loop = testutil::RunProgram({"losetup", "-f", "--show", "-r", img});
  ASSERT_EQ(loop.status, 0) << loop.err;
  std::string dev = loop.out.substr(0, loop.out.find('\n'));
  const std::string mnt = "/run/initos-jails/vmrun1/image-fs";
  struct Cleanup {
    std::string mnt, dev;
    ~Cleanup() {
      testutil::RunProgram({"umount", "-l", mnt});
      testutil::RunProgram({"losetup", "-d", dev});
    }
  } cleanup{mnt, dev};
  std::string toml = "[rootfs]\nkeys = [\"" + dir_ +
                     "/a.pub\"]\n"
                     "[jails]\nsocket = \"" +
                     dir_ + "/jails.sock\"\nuid-pool-start = " + std::to_string(kPoolStart) +
                     "\n[[jail]]\nname = \"vmrun1\"\nkind = \"vm\"\n"
                     "rootfs = \"LABEL=h3vmimgs:/os.bundle\"\nrootfs-name = \"testos\"\n"
                     "command = [\"/bin/sh\", \"-c\", \"echo VMJAIL-RUN-$((6*7)); poweroff -f\"]\n"
                     "kernel = \"" +
                     kernel_ +
                     "\"\naccel = \"auto\"\nmemory = \"256M\"\nvsock = false\n"
                     "restart = \"never\"\n";
  ASSERT_TRUE(WriteStringToFile(dir_ + "/jails.toml", toml).ok());
  auto run = testutil::RunProgram({"timeout", "-s", "KILL", "240", INITOS_BINARY, "jail", "run",
                                   "--once", dir_ + "/jails.toml"});
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("VMJAIL-RUN-42"), std::string::npos) << run.out << run.err;
  // accel = "auto": the KVM probe decides (TCG on the development host,
  // whose nested KVM is far too slow) and the start line says why.
  const bool kvm = run.err.find("accel kvm (auto: ") != std::string::npos;
  const bool tcg = run.err.find("accel tcg (auto: no KVM (") != std::string::npos;
  EXPECT_TRUE(kvm || tcg) << run.err;
  EXPECT_NE(run.err.find(", machine microvm, 1 cpu, 256M, no vsock"), std::string::npos) << run.err;
  EXPECT_TRUE(ProcessesOfUid(kPoolStart).empty());
  // The bundle's filesystem was detached once the file was open: nothing is
  // left mounted when the run ends.
  auto mountinfo = ReadFileToString("/proc/self/mountinfo");
  ASSERT_TRUE(mountinfo.ok());
  EXPECT_EQ(mountinfo->find(" " + mnt + " "), std::string::npos) << *mountinfo;
}

}  // namespace
}  // namespace initos
