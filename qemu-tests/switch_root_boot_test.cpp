// End to end of issue 5: PID 1 verifies a signed Debian bundle, switch-roots
// into its systemd and leaves the SSH sidecar running beside it; the real ssh
// client logs in from the host through a QEMU port forward. One long test
// shares two boots (Debian under TCG is slow) between the assertions; a short
// one checks the missing-OS-init failure path.
//
// The signed bundle is built once into BUILD/qemu-work/switch-root-shared
// from the cached debootstrap tree (scripts/debian-rootfs.sh) and reused.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <thread>

#include "base/file.h"
#include "qemu-tests/debian_fixture.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

constexpr const char kPartLabel[] = "debian";

// sidecar_start: "" keeps the default (before-handover).
std::string Config(const Shared& sh, const std::string& init_extra = "",
                   const std::string& sidecar_start = "") {
  std::string key = PublicKey(sh.ssh_key);
  // rootfs.name is required with rootfs.image: the bundle is built with
  // --name debian.
  return "[init]\nmode = \"switch-root\"\nfailure-delay-s = 0\n" + init_extra + Modules() +
         "[rootfs]\nimage = \"PARTLABEL=" + kPartLabel +
         "\"\nname = \"debian\"\nkeys = [\"/etc/initos/keys/dev.pub\"]\non-failure = "
         "\"poweroff\"\n"
         "[state]\ndevice = \"LABEL=" +
         kStateLabel + "\"\n[sidecar]\nenable = true\nauthorized-keys = [\"" + key + "\"]\n" +
         (sidecar_start.empty() ? "" : "start = \"" + sidecar_start + "\"\n");
}

// Runs a command in the OS's mount namespace and root (systemctl talks to
// systemd over /run/systemd, which the sidecar's /sysroot does not show).
std::string InOs(const std::string& cmd) {
  return "nsenter -t 1 -m -r -w -- " + cmd;
}

// PID of the sidecar's listening sshd: argv[0] "@sshd" and the supervisor
// (@initos-sidecar) as parent. Sessions are forks of it (same argv with
// sshd -r), so the parent is what tells them apart.
constexpr const char kSshdPids[] =
    "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' 2>/dev/null <$d/cmdline)\" in "
    "@initos-sidecar*) sup=${d#/proc/};; esac; done; "
    "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' 2>/dev/null <$d/cmdline)\" in "
    "@sshd*) set -- $(cat $d/stat 2>/dev/null); [ \"$4\" = \"$sup\" ] && echo ${d#/proc/};; "
    "esac; done";

// The supervisor's cgroup line(s): under systemd, a unit's processes are in
// its cgroup; the sidecar PID 1 forked before the handover is not in any.
constexpr const char kSupervisorCgroup[] =
    "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' 2>/dev/null <$d/cmdline)\" in "
    "@initos-sidecar*) cat $d/cgroup;; esac; done";

// Both sidecar.start variants must pass the same sidecar checks.
class SwitchRootBootSidecar : public ::testing::TestWithParam<const char*> {
 protected:
  bool AfterOsInit() const { return std::string(GetParam()) == "after-os-init"; }
};

INSTANTIATE_TEST_SUITE_P(SidecarStart, SwitchRootBootSidecar,
                         ::testing::Values("before-handover", "after-os-init"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "after-os-init" ? "AfterOsInit"
                                                                             : "BeforeHandover";
                         });

TEST_P(SwitchRootBootSidecar, DebianSystemdWithSshSidecarAcrossRebootAndPoweroff) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  Disk disk = MakeDisk(sh, dir);
  std::string initramfs = Initramfs(sh, dir, Config(sh, "", GetParam()));
  ASSERT_FALSE(initramfs.empty());
  int port = FreePort();
  ASSERT_NE(port, 0);
  std::string host_key;
  const std::string wrong_pub = PublicKey(sh.wrong_key);
  ASSERT_FALSE(wrong_pub.empty());

  {  // Boot 1: systemd, the sidecar, logins, sshd restart, poweroff. The
     // kernel command line tries to add the attacker's key: refused.
    auto vm = Boot(initramfs, disk, port, TestLogPath(),
                   " initos.sidecar.authorized-keys=\"" + wrong_pub + "\"");
    ASSERT_TRUE(vm);
    ASSERT_TRUE(vm->WaitFor("stage rootfs done", kBootTimeout)) << vm->Output();
    ASSERT_TRUE(vm->WaitFor("stage switch-root done")) << vm->Output();
    // Debian's /sbin/init (-> systemd); /proc/1/comm below says what runs.
    ASSERT_TRUE(vm->WaitForRegex(R"(exec OS init: /\S+ t=)")) << vm->Output();
    // Logged before the handover: keys come only from the signed config.
    EXPECT_TRUE(
        std::regex_search(vm->Output(), std::regex(R"(initos\.sidecar\.authorized-keys: refused)")))
        << vm->Output();
    EXPECT_EQ(vm->Output().find("sidecar: prepared in /run/initos/sidecar") != std::string::npos,
              AfterOsInit())
        << vm->Output();
    ASSERT_TRUE(vm->WaitForRegex("Reached target.*Multi-User System", Seconds(300)))
        << vm->Output();
    int ssh_s = WaitForSsh(*vm, port, sh.ssh_key, 120);
    ASSERT_GE(ssh_s, 0) << "no ssh login\n" << vm->Output();

    // Which variant runs: the unit's supervisor lives in its cgroup.
    auto [cg_code, cgroup] = Ssh(port, sh.ssh_key, kSupervisorCgroup);
    EXPECT_EQ(cg_code, 0) << cgroup;
    EXPECT_EQ(cgroup.find("initos-sidecar.service") != std::string::npos, AfterOsInit()) << cgroup;
    if (AfterOsInit()) {
      // The prepared tree the OS holds is read-only (root can remount it:
      // see the docs; this only keeps accidents out).
      auto [ro_code, ro] = Ssh(port, sh.ssh_key, InOs("/bin/touch /run/initos/sidecar/x"));
      EXPECT_NE(ro_code, 0) << ro;
      EXPECT_NE(ro.find("Read-only file system"), std::string::npos) << ro;
    }

    auto [c1, comm] = Ssh(port, sh.ssh_key, "cat /proc/1/comm");
    EXPECT_EQ(c1, 0);
    EXPECT_EQ(comm, "systemd\n");
    auto [c2, osr] =
        Ssh(port, sh.ssh_key, "cat /sysroot/etc/os-release /sysroot/etc/initos-os-marker");
    EXPECT_EQ(c2, 0) << osr;
    EXPECT_NE(osr.find("Debian GNU/Linux 12"), std::string::npos) << osr;
    EXPECT_NE(osr.find("initos-debian "), std::string::npos) << osr;
    auto [c3, blk] = Ssh(port, sh.ssh_key, "ls /sys/block");
    EXPECT_EQ(c3, 0) << blk;
    EXPECT_NE(blk.find("vda"), std::string::npos) << blk;
    EXPECT_NE(blk.find("dm-"), std::string::npos) << blk;  // the dm-verity root
    Drain(*vm);

    // `initos status` on the session's PATH names the bundle the host built
    // (root hash from `initos image info --json`, not a constant).
    std::string root_hash = BundleRootHash(sh.bundle);
    ASSERT_EQ(root_hash.size(), 64u) << root_hash;
    auto [c8, status] = Ssh(port, sh.ssh_key, "initos status");
    EXPECT_EQ(c8, 0) << status;
    EXPECT_NE(status.find("image: debian\n"), std::string::npos) << status;
    EXPECT_NE(status.find("version: 1\n"), std::string::npos) << status;
    EXPECT_NE(status.find("root hash: " + root_hash + "\n"), std::string::npos) << status;
    EXPECT_NE(status.find("mode: switch-root\n"), std::string::npos) << status;
    // Direct kernel boot: no EFI firmware, so Secure Boot is unknown; the
    // signed config has no development mode.
    EXPECT_NE(status.find("verification: verified\nsecure boot: unknown (no EFI firmware)\n"),
              std::string::npos)
        << status;
    EXPECT_TRUE(std::regex_search(status, std::regex("sidecar uptime: [0-9hms]+\n"))) << status;
    auto [c9, json] = Ssh(port, sh.ssh_key, "initos status --json");
    EXPECT_EQ(c9, 0) << json;
    EXPECT_NE(json.find("\"root_hash\": \"" + root_hash + "\""), std::string::npos) << json;
    // The record is the sidecar's own copy in its tmpfs, not the OS's file.
    EXPECT_NE(json.find("\"record\": \"/run/initos/status\""), std::string::npos) << json;
    // The record moved into the OS's /run with the handover.
    auto [c10, os_record] = Ssh(port, sh.ssh_key, InOs("/bin/cat /run/initos/status"));
    EXPECT_EQ(c10, 0) << os_record;
    EXPECT_NE(os_record.find("root-hash=" + root_hash + "\n"), std::string::npos) << os_record;
    // Root in the OS rewrites its record: the sidecar still prints the truth.
    auto [c12, forged] = Ssh(port, sh.ssh_key,
                             InOs("/bin/sed -i s/^image=debian/image=forged/ /run/initos/status") +
                                 " && " + InOs("/bin/cat /run/initos/status"));
    EXPECT_EQ(c12, 0) << forged;
    EXPECT_NE(forged.find("image=forged\n"), std::string::npos) << forged;
    auto [c13, status2] = Ssh(port, sh.ssh_key, "initos status");
    EXPECT_EQ(c13, 0) << status2;
    EXPECT_NE(status2.find("image: debian\n"), std::string::npos) << status2;
    EXPECT_EQ(status2.find("forged"), std::string::npos) << status2;
    auto [c11, logs] = Ssh(port, sh.ssh_key, "initos logs | grep 'stage rootfs done'");
    EXPECT_EQ(c11, 0) << logs;
    EXPECT_TRUE(
        std::regex_search(logs, std::regex(R"(^\[ *[0-9]+\.[0-9]{6}\] initos: stage rootfs done)")))
        << logs;
    Drain(*vm);

    // Only the test key gets in; no password prompt is ever offered.
    auto [c4, wrong] = Ssh(port, sh.wrong_key, "true");
    EXPECT_NE(c4, 0);
    EXPECT_NE(wrong.find("Permission denied (publickey)"), std::string::npos) << wrong;
    // Root in the OS plants the attacker's key on the state partition: it
    // does not open the sidecar, the configured key still does.
    auto [c14, planted] =
        Ssh(port, sh.ssh_key,
            InOs("/bin/sh -c 'mkdir -p /run/initos/state/sidecar && echo " + wrong_pub +
                 " > /run/initos/state/sidecar/authorized_keys && chmod 600 "
                 "/run/initos/state/sidecar/authorized_keys && cat "
                 "/run/initos/state/sidecar/authorized_keys'"));
    EXPECT_EQ(c14, 0) << planted;
    EXPECT_NE(planted.find(wrong_pub), std::string::npos) << planted;
    auto [c15, still_wrong] = Ssh(port, sh.wrong_key, "true");
    EXPECT_NE(c15, 0) << still_wrong;
    EXPECT_NE(still_wrong.find("Permission denied (publickey)"), std::string::npos) << still_wrong;
    EXPECT_EQ(Ssh(port, sh.ssh_key, "true").first, 0);
    auto [c5, pw] = Ssh(port, "", "true",
                        {"-o", "PubkeyAuthentication=no", "-o",
                         "PreferredAuthentications=password,keyboard-interactive"});
    EXPECT_NE(c5, 0);
    EXPECT_NE(pw.find("Permission denied (publickey)"), std::string::npos) << pw;

    host_key = HostKey(port);
    EXPECT_NE(host_key, "");

    // The supervisor brings a killed sshd back (killing the listener may
    // take this session down with it, so its exit status is not checked).
    auto [c6, before] = Ssh(port, sh.ssh_key, kSshdPids);
    EXPECT_EQ(c6, 0) << before;
    ASSERT_EQ(std::count(before.begin(), before.end(), '\n'), 1) << "one listener: " << before;
    Ssh(port, sh.ssh_key, "kill " + before);
    int back = WaitForSsh(*vm, port, sh.ssh_key, 30);
    EXPECT_GE(back, 0) << "sshd not restarted within 30 s\n" << vm->Output();
    auto [c7, after] = Ssh(port, sh.ssh_key, kSshdPids);
    EXPECT_EQ(c7, 0) << after;
    EXPECT_EQ(std::count(after.begin(), after.end(), '\n'), 1) << "one listener: " << after;
    EXPECT_NE(after, before) << "the same sshd is still running";
    EXPECT_TRUE(vm->WaitFor("initos-sidecar: sshd exited")) << vm->Output();

    // systemctl poweroff in the OS: systemd -> /run/initramfs/shutdown -> off.
    Ssh(port, sh.ssh_key, InOs("/bin/systemctl --no-block poweroff"));
    auto code = vm->WaitExit(Seconds(240));
    ASSERT_TRUE(code) << "no poweroff\n" << vm->Output();
    EXPECT_EQ(*code, 0);
    // The '@' sidecar outlived systemd's killing spree; the shutdown
    // program stopped it before unmounting the state partition.
    const std::string& out = vm->Output();
    size_t shutdown = out.find("initramfs-shutdown: poweroff"),
           stopped = out.find("initos-sidecar: stopped"),
           unmounted = out.find("initramfs-shutdown: unmounted");
    EXPECT_NE(shutdown, std::string::npos) << out;
    EXPECT_NE(stopped, std::string::npos) << out;
    if (AfterOsInit()) {
      // A systemd service: stopped with its unit, before systemd's end.
      EXPECT_TRUE(stopped < shutdown && shutdown < unmounted) << out;
    } else {
      EXPECT_TRUE(shutdown < stopped && stopped < unmounted) << out;
    }
    EXPECT_NE(vm->Output().find("device-mapper device(s), left nothing"), std::string::npos)
        << vm->Output();
  }
  bool clean = false;
  std::string fsck = CheckState(disk, dir, &clean);
  EXPECT_TRUE(clean) << fsck;

  {  // Boot 2: same host key from the state partition; reboot also tears down.
    auto vm = Boot(initramfs, disk, port, TestLogPath() + ".boot2");
    ASSERT_TRUE(vm);
    ASSERT_TRUE(vm->WaitForRegex("Reached target.*Multi-User System", Seconds(400)))
        << vm->Output();
    ASSERT_GE(WaitForSsh(*vm, port, sh.ssh_key, 120), 0) << vm->Output();
    EXPECT_EQ(HostKey(port), host_key);
    // The key planted in boot 1 is on the state partition from the start.
    auto [c16, wrong2] = Ssh(port, sh.wrong_key, "true");
    EXPECT_NE(c16, 0) << wrong2;
    EXPECT_NE(wrong2.find("Permission denied (publickey)"), std::string::npos) << wrong2;
    Ssh(port, sh.ssh_key, InOs("/bin/systemctl --no-block reboot"));
    auto code = vm->WaitExit(Seconds(240));  // -no-reboot: QEMU exits
    ASSERT_TRUE(code) << "no reboot\n" << vm->Output();
    EXPECT_EQ(*code, 0);
    EXPECT_NE(vm->Output().find("initramfs-shutdown: reboot"), std::string::npos) << vm->Output();
  }
  fsck = CheckState(disk, dir, &clean);
  EXPECT_TRUE(clean) << fsck;
}

TEST(SwitchRootBoot, MissingOsInitAppliesTheFailurePolicy) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  Disk disk = MakeDisk(sh, dir);
  std::string initramfs = Initramfs(sh, dir, Config(sh, "os-init = \"/sbin/no-such-init\"\n"));
  ASSERT_FALSE(initramfs.empty());
  auto vm = Boot(initramfs, disk, FreePort(), TestLogPath());
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("stage switch-root failed", kBootTimeout)) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("/sbin/no-such-init")) << vm->Output();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Output();
  EXPECT_EQ(*code, 0);  // on-failure = poweroff
  EXPECT_EQ(vm->Output().find("exec OS init"), std::string::npos) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
}

// The exec of the OS init fails after the root was switched (the Debian
// image's /etc/hostname is a regular file with the exec bit: ENOEXEC). In
// development mode with on-failure = "shell", the recovery shell must be
// the initramfs' busybox (opened before the handover), not a path looked up
// in the OS, which has no /bin/busybox at all.
TEST(SwitchRootBoot, FailedOsInitExecGivesTheInitramfsShell) {
  INITOS_REQUIRE_QEMU();
  const Shared& sh = GetShared();
  ASSERT_EQ(sh.error, "");
  std::string dir = TestWorkDir();
  Disk disk = MakeDisk(sh, dir);
  std::string config =
      Config(sh, "os-init = \"/etc/hostname\"\nshell = [\"/bin/busybox\", \"sh\"]\n");
  const std::string policy = "on-failure = \"poweroff\"\n";
  ASSERT_NE(config.find(policy), std::string::npos);
  config.replace(config.find(policy), policy.size(),
                 "on-failure = \"shell\"\ninsecure-dev-mode = true\n");
  std::string initramfs = Initramfs(sh, dir, config);
  ASSERT_FALSE(initramfs.empty());
  auto vm = Boot(initramfs, disk, FreePort(), TestLogPath());
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("stage switch-root failed", kBootTimeout)) << vm->Output();
  // It failed at the exec itself, i.e. after the handover began.
  EXPECT_TRUE(vm->WaitFor("exec OS init /etc/hostname: Exec format error"))
      << "the fixture needs an executable non-program in the image\n"
      << vm->Output();
  bool answered = false;
  for (int i = 0; i < 30 && !answered; ++i) {
    vm->Send("echo SHELL-$((20+22))\n");
    answered = vm->WaitFor("SHELL-42", Seconds(2));
  }
  ASSERT_TRUE(answered) << vm->Output();
  // "/" is the OS now, which has no busybox: the shell runs from the fd.
  vm->Send(
      "[ -e /bin/busybox ] || echo NO-BUSYBOX-$((1+1)); read h < /etc/hostname; echo "
      "HOST-$h\n");
  EXPECT_TRUE(vm->WaitFor("NO-BUSYBOX-2")) << vm->Output();
  EXPECT_TRUE(vm->WaitFor("HOST-initos-debian")) << vm->Output();
  ASSERT_TRUE(vm->Send("exit\n"));
  EXPECT_TRUE(vm->WaitFor("shutdown: reboot")) << vm->Output();
  EXPECT_TRUE(vm->WaitExit()) << vm->Output();
  EXPECT_EQ(vm->Output().find("Kernel panic"), std::string::npos) << vm->Output();
}

}  // namespace
}  // namespace initos::qemu
