// Boots initos as PID 1 of a real kernel under QEMU and checks what the
// system did: console output, exit codes, /proc as seen inside the guest.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <regex>

#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

// Scripts run with busybox; `--install` gives them the usual command names.
constexpr const char kScriptHeader[] =
    "#!/bin/busybox sh\n"
    "/bin/busybox --install -s /bin\n"
    "export PATH=/bin:/sbin\n";

constexpr const char kKernelPanic[] = "Kernel panic";

// A marker the guest can only print if it ran our script: fresh per test.
std::string Marker(const std::string& what) {
  static std::mt19937_64 rng{std::random_device{}()};
  return what + "-" + std::to_string(rng() % 1000000000);
}

std::string Script(const std::string& body) {
  return kScriptHeader + body;
}

// Config running /test/main.sh with `on_exit` and extra [init] lines.
std::string MainConfig(const std::string& on_exit, const std::string& extra = "") {
  return "[init]\n"
         "main = [\"/bin/busybox\", \"sh\", \"/test/main.sh\"]\n"
         "on-exit = \"" +
         on_exit + "\"\n" + extra;
}

// Builds an initramfs with `config` and `/test/main.sh` = script, boots it.
std::unique_ptr<Qemu> BuildAndBoot(InitramfsSpec spec, const std::string& append = "",
                                   std::vector<std::string> disks = {}) {
  std::string dir = TestWorkDir();
  auto img = BuildInitramfs(spec, dir);
  EXPECT_TRUE(img.ok()) << img.error().str();
  if (!img.ok()) return nullptr;
  QemuOptions o = BootOptions(*img, append);
  o.disks = std::move(disks);
  auto q = Qemu::Start(o);
  EXPECT_TRUE(q.ok()) << q.error().str();
  if (!q.ok()) return nullptr;
  return std::move(*q);
}

InitramfsSpec MainSpec(const std::string& config, const std::string& main_body) {
  InitramfsSpec spec;
  spec.config = config;
  spec.texts.push_back({Script(main_body), "/test/main.sh"});
  return spec;
}

// `image initramfs --config` refuses a broken config, so it goes in as a
// plain file at the path PID 1 reads.
InitramfsSpec BrokenConfigSpec(const std::string& config, const std::string& main_body) {
  InitramfsSpec spec = MainSpec("", main_body);
  spec.texts.push_back({config, "/etc/initos/initos.toml"});
  return spec;
}

bool Contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

TEST(Pid1Boot, RunsMainProgramAndLogsStages) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("MAIN-RAN");
  auto vm = BuildAndBoot(
      MainSpec(MainConfig("poweroff"), "echo " + marker +
                                           " pid=$$ init=$(cat /proc/1/comm)\n"
                                           "echo ROOTFS=$(awk '$2==\"/proc\"{print $3}' "
                                           "/proc/mounts)\n"));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("Run /init as init process", kBootTimeout)) << vm->Tail();
  // Every stage logs "initos: stage NAME done t=SECONDS" through /dev/kmsg.
  auto stage = vm->WaitForRegex(R"(initos: stage [a-z0-9_-]+ done t=[0-9]+\.[0-9]+)");
  EXPECT_TRUE(stage) << vm->Tail();
  // PID 1 is initos itself (/init), and it mounted /proc before main ran.
  auto ran = vm->WaitForRegex(marker + R"( pid=[0-9]+ init=\S+)");
  ASSERT_TRUE(ran) << vm->Tail();
  EXPECT_TRUE(ran->ends_with(" init=init")) << *ran;
  EXPECT_TRUE(vm->WaitFor("ROOTFS=proc\n")) << vm->Tail();
  // Main ends, on-exit = poweroff: QEMU exits cleanly, PID 1 never dies.
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << "QEMU did not power off\n" << vm->Tail();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(Contains(vm->Output(), "shutdown: poweroff")) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// 100 `sleep` processes are orphaned (their parent shell exits without waiting),
// so the kernel re-parents them to PID 1; when they exit only PID 1 can reap
// them. The script proves the re-parenting happened (ORPHANS counts sleeps whose
// parent is 1) and then counts zombies system-wide.
TEST(Pid1Boot, ReapsOrphanedZombies) {
  INITOS_REQUIRE_QEMU();
  const std::string body = R"SH(
sh -c 'i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done'
orphans=0
for s in /proc/[0-9]*/stat; do
  set -- $(cat $s 2>/dev/null)
  [ "$2" = "(sleep)" ] && [ "$4" = "1" ] && orphans=$((orphans+1))
done
echo ORPHANS=$orphans
# Wait for the sleeps to end (they become zombies unless PID 1 reaps them).
n=0
while [ $n -lt 20 ]; do
  sleep 1
  n=$((n+1))
  left=$(cat /proc/[0-9]*/stat 2>/dev/null | grep -c '(sleep) [^Z]')
  [ "$left" = 0 ] && break
done
sleep 1
zombies=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3=="Z"' | wc -l)
echo ZOMBIES=$zombies
)SH";
  auto vm = BuildAndBoot(MainSpec(MainConfig("poweroff"), body));
  ASSERT_TRUE(vm);
  auto orphans = vm->WaitForRegex(R"(ORPHANS=[0-9]+)", kBootTimeout);
  ASSERT_TRUE(orphans) << vm->Tail();
  EXPECT_GT(std::stoi(orphans->substr(8)), 50) << "orphans were not re-parented to PID 1";
  auto zombies = vm->WaitForRegex(R"(ZOMBIES=[0-9]+)", Seconds(90));
  ASSERT_TRUE(zombies) << vm->Tail();
  EXPECT_EQ(*zombies, "ZOMBIES=0") << vm->Tail();
  EXPECT_TRUE(vm->WaitExit()) << vm->Tail();
}

// An unknown key is reported with its file:line and, allow-shell being set,
// PID 1 falls back to the emergency shell on the console.
TEST(Pid1Boot, UnknownConfigKeyReportsLineAndOpensShell) {
  INITOS_REQUIRE_QEMU();
  std::string config =
      "[init]\n"
      "main = [\"/bin/busybox\", \"sh\", \"/test/main.sh\"]\n"
      "on-exit = \"shell\"\n"
      "no-such-key = 1\n"
      "allow-shell = true\n"
      "shell = [\"/bin/busybox\", \"sh\"]\n";
  auto vm = BuildAndBoot(BrokenConfigSpec(config, "echo MAIN-RAN\n"));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitForRegex(R"(initos\.toml:4:[^\n]*no-such-key)", kBootTimeout)) << vm->Tail();
  // Type into the shell until it answers; the echo of typed text shows the
  // unevaluated expression, only a running shell prints the sum.
  bool answered = false;
  for (int i = 0; i < 30 && !answered; ++i) {
    vm->Send("echo SHELL-$((40+2))\n");
    answered = vm->WaitFor("SHELL-42", Seconds(2));
  }
  ASSERT_TRUE(answered) << vm->Tail();
  // The operator must be able to see why a shell appeared (no log lines lost,
  // e.g. to /dev/kmsg rate limiting).
  EXPECT_TRUE(Contains(vm->Output(), "starting emergency shell")) << vm->Tail();
  vm->Send("echo PID=$$ PPID=$PPID\n");
  EXPECT_TRUE(vm->WaitForRegex(R"(PID=[0-9]+ PPID=1\b)")) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// A config that is not TOML at all: the error names the line; without
// allow-shell PID 1 powers off instead of panicking.
TEST(Pid1Boot, SyntaxErrorReportsLineAndPowersOff) {
  INITOS_REQUIRE_QEMU();
  std::string config =
      "[init]\n"
      "main = [\"/bin/busybox\", \"sh\", \"/test/main.sh\"\n"
      "on-exit = \"poweroff\"\n";
  auto vm =
      BuildAndBoot(BrokenConfigSpec(config, "echo MAIN-RAN\n"), "initos.init.on-exit=poweroff");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitForRegex(R"(initos\.toml:[23]\b)", kBootTimeout)) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Tail();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(Contains(vm->Output(), "reboot: Power down")) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// `initos poweroff` run by the main program shuts the machine down. on-exit is
// respawn, so a poweroff can only come from the command, not the policy.
TEST(Pid1Boot, PoweroffCommandPowersOffQemu) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("BEFORE-POWEROFF");
  auto vm = BuildAndBoot(
      MainSpec(MainConfig("respawn"), "echo " + marker + "\n/init poweroff\nsleep 600\n"));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(marker, kBootTimeout)) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << "still running after initos poweroff\n" << vm->Tail();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(Contains(vm->Output(), "shutdown: poweroff")) << vm->Tail();
  EXPECT_TRUE(Contains(vm->Output(), "reboot: Power down")) << vm->Tail();
  EXPECT_EQ(vm->Count(marker), 1u) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// `initos reboot`: with -no-reboot QEMU exits too; the console tells them apart.
TEST(Pid1Boot, RebootCommandRestartsMachine) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("BEFORE-REBOOT");
  auto vm = BuildAndBoot(
      MainSpec(MainConfig("respawn"), "echo " + marker + "\n/init reboot\nsleep 600\n"));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(marker, kBootTimeout)) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << "still running after initos reboot\n" << vm->Tail();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(Contains(vm->Output(), "shutdown: reboot")) << vm->Tail();
  EXPECT_TRUE(Contains(vm->Output(), "reboot: Restarting system")) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), "reboot: Power down")) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// The first run of main has another process SIGKILL it. `first-run` lives in
// the initramfs root (writable), so the second run knows it is the respawn.
std::string KilledMainBody(const std::string& marker, const std::string& second_run) {
  return "echo " + marker + " pid=$$\n" +
         "if [ ! -e /first-run ]; then\n"
         "  touch /first-run\n"
         "  (sleep 1; kill -9 " +
         "$$) &\n"
         "  sleep 600\n"
         "fi\n" +
         second_run;
}

TEST(Pid1Boot, KilledMainIsRespawned) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("MAIN-START");
  auto vm = BuildAndBoot(
      MainSpec(MainConfig("respawn"), KilledMainBody(marker, "echo SECOND-RUN\n/init poweroff\n")));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(marker, kBootTimeout)) << vm->Tail();
  ASSERT_TRUE(vm->WaitFor(marker, Seconds(60))) << "main was not respawned\n" << vm->Tail();
  EXPECT_TRUE(vm->WaitFor("SECOND-RUN")) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Tail();
  EXPECT_EQ(vm->Count(marker), 2u) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

TEST(Pid1Boot, KilledMainWithPoweroffPolicyPowersOff) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("MAIN-START");
  auto vm =
      BuildAndBoot(MainSpec(MainConfig("poweroff"), KilledMainBody(marker, "echo SECOND-RUN\n")));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(marker, kBootTimeout)) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << "QEMU still running after main was killed\n" << vm->Tail();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(Contains(vm->Output(), "shutdown: poweroff")) << vm->Tail();
  EXPECT_EQ(vm->Count(marker), 1u) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), "SECOND-RUN")) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// Development mode (a development image's signed config says so) keeps
// every override, and says so on the console on every boot.
TEST(Pid1Boot, KernelCmdlineOverridesMainInDevelopmentMode) {
  INITOS_REQUIRE_QEMU();
  std::string from_config = Marker("FROM-CONFIG");
  std::string from_cmdline = Marker("FROM-CMDLINE");
  InitramfsSpec spec = MainSpec(MainConfig("poweroff") + "[rootfs]\ninsecure-dev-mode = true\n",
                                "echo " + from_config + "\n");
  spec.texts.push_back({Script("echo " + from_cmdline + "\n"), "/test/other.sh"});
  auto vm = BuildAndBoot(spec, "initos.init.main=/test/other.sh");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("DEVELOPMENT MODE", kBootTimeout)) << vm->Tail();
  ASSERT_TRUE(vm->WaitFor(from_cmdline, kBootTimeout)) << vm->Tail();
  ASSERT_TRUE(vm->WaitExit()) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), from_config)) << vm->Tail();
}

// A listed key (init.cmdline-overrides in the signed config) applies in
// verified mode; the same boot refuses an unlisted one, with its own line.
TEST(Pid1Boot, KernelCmdlineAppliesOnlyAllowListedKeys) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("MAIN-RAN");
  InitramfsSpec spec =
      MainSpec(MainConfig("poweroff", "cmdline-overrides = [\"init.log-level\"]\n"),
               "echo " + marker + "\n");
  auto vm = BuildAndBoot(spec, "initos.init.log-level=debug initos.init.on-exit=reboot");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor(marker, kBootTimeout)) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Tail();
  EXPECT_EQ(*code, 0);  // on-exit stayed "poweroff": a reboot would restart the VM
  const std::string& out = vm->Output();
  EXPECT_TRUE(Contains(out, "initos.init.on-exit: refused: not listed in init.cmdline-overrides"))
      << vm->Tail();
  EXPECT_FALSE(Contains(out, "initos.init.log-level: refused")) << vm->Tail();
  EXPECT_TRUE(Contains(out, "verified mode: the kernel command line may set 1 key(s)"))
      << vm->Tail();
}

// ---- the kernel command line as an attacker's tool ---------------------------
// Each boot gets a signed config that runs /test/main.sh (printing a fresh
// marker) and an attacker script that must never run. The attack is the
// kernel command line; the boot must end without the attacker's program,
// without a kernel panic, and with a line saying what was refused or ignored.

struct AttackBoot {
  std::string from_config = Marker("FROM-CONFIG");
  std::string attacker = Marker("ATTACKER-RAN");
  std::unique_ptr<Qemu> vm;
};

AttackBoot BootAttack(const std::string& config_extra, const std::string& append,
                      const std::string& rootfs = "") {
  AttackBoot b;
  InitramfsSpec spec =
      MainSpec(MainConfig("poweroff", config_extra) + rootfs, "echo " + b.from_config + "\n");
  spec.texts.push_back({Script("echo " + b.attacker + "\n"), "/test/attacker.sh"});
  // A TOML file an attacker might point --config at: it names the attacker.
  spec.texts.push_back({"[init]\nmain = [\"/test/attacker.sh\"]\n", "/test/evil.toml"});
  b.vm = BuildAndBoot(spec, append);
  return b;
}

// The boot ended (QEMU exited) without the attacker's marker or a panic.
void ExpectNoAttack(AttackBoot& b) {
  ASSERT_TRUE(b.vm);
  auto code = b.vm->WaitExit();
  ASSERT_TRUE(code) << "QEMU still running\n" << b.vm->Tail();
  // The marker text is on the command line too when the attack names it: only
  // a line the script printed counts, i.e. the marker at the start of a line.
  EXPECT_FALSE(Contains(b.vm->Output(), "\n" + b.attacker)) << b.vm->Tail();
  EXPECT_FALSE(Contains(b.vm->Output(), kKernelPanic)) << b.vm->Tail();
}

// PID 1's argv comes from the kernel command line (words after "--"): it is
// ignored, the signed config's program runs.
void ExpectArgvIgnored(const std::string& argv_words) {
  AttackBoot b = BootAttack("", "-- " + argv_words);
  ASSERT_TRUE(b.vm);
  ASSERT_TRUE(b.vm->WaitFor("passed to PID 1", kBootTimeout)) << b.vm->Tail();
  EXPECT_TRUE(Contains(b.vm->Output(), "ignoring")) << b.vm->Tail();
  EXPECT_TRUE(b.vm->WaitFor(b.from_config)) << b.vm->Tail();
  ExpectNoAttack(b);
}

TEST(Pid1Hardening, ArgvReapIsIgnored) {
  INITOS_REQUIRE_QEMU();
  ExpectArgvIgnored("reap /test/attacker.sh");
}

TEST(Pid1Hardening, ArgvReapDashDashIsIgnored) {
  INITOS_REQUIRE_QEMU();
  ExpectArgvIgnored("reap -- /test/attacker.sh");
}

// /proc/cmdline as the config file would hand the config to whoever edits
// the boot loader entry.
TEST(Pid1Hardening, ArgvConfigProcCmdlineIsIgnored) {
  INITOS_REQUIRE_QEMU();
  ExpectArgvIgnored("--config /proc/cmdline");
}

TEST(Pid1Hardening, ArgvConfigOtherFileIsIgnored) {
  INITOS_REQUIRE_QEMU();
  ExpectArgvIgnored("--config /test/evil.toml");
}

TEST(Pid1Hardening, ArgvConfigNoneIsIgnored) {
  INITOS_REQUIRE_QEMU();
  ExpectArgvIgnored("--config /none");
}

TEST(Pid1Hardening, ArgvHelpIsIgnored) {
  INITOS_REQUIRE_QEMU();
  ExpectArgvIgnored("--help");
}

// A verified-root config whose image is missing here: the boot must still
// look for the image (verification was not disabled) and fail closed.
constexpr const char kVerifiedRoot[] =
    "[rootfs]\n"
    "image = \"PARTLABEL=rootA\"\n"
    "name = \"testos\"\n"
    "keys = [\"/etc/initos/keys/release.pub\"]\n"
    "on-failure = \"poweroff\"\n";

AttackBoot BootVerifiedAttack(const std::string& append, const std::string& mode = "") {
  // A key file, so the boot gets as far as looking for the image.
  std::string dir = TestWorkDir();
  auto [rc, out] = RunCapture({INITOS_BINARY, "image", "keygen", "-o", dir + "/k"});
  EXPECT_EQ(rc, 0) << out;
  AttackBoot b;
  InitramfsSpec spec =
      MainSpec(MainConfig("poweroff", mode + "failure-delay-s = 0\n") + kVerifiedRoot,
               "echo " + b.from_config + "\n");
  spec.texts.push_back({Script("echo " + b.attacker + "\n"), "/test/attacker.sh"});
  spec.files.push_back({dir + "/k/signing.pub", "/etc/initos/keys/release.pub"});
  b.vm = BuildAndBoot(spec, append);
  return b;
}

TEST(Pid1Hardening, EmptyImageAndMainOverrideAreRefused) {
  INITOS_REQUIRE_QEMU();
  AttackBoot b = BootVerifiedAttack("initos.rootfs.image= initos.init.main=/test/attacker.sh");
  ASSERT_TRUE(b.vm);
  ASSERT_TRUE(b.vm->WaitFor("initos.rootfs.image: refused", kBootTimeout)) << b.vm->Tail();
  EXPECT_TRUE(b.vm->WaitFor("initos.init.main: refused")) << b.vm->Tail();
  // Verification still ran: it looked for the configured image and failed closed.
  EXPECT_TRUE(b.vm->WaitFor("stage rootfs failed")) << b.vm->Tail();
  ExpectNoAttack(b);
  EXPECT_FALSE(Contains(b.vm->Output(), "\n" + b.from_config)) << b.vm->Tail();
}

TEST(Pid1Hardening, OsInitOverrideIsRefused) {
  INITOS_REQUIRE_QEMU();
  AttackBoot b = BootVerifiedAttack("initos.init.os-init=/test/attacker.sh initos.init.mode=run",
                                    "mode = \"switch-root\"\n");
  ASSERT_TRUE(b.vm);
  ASSERT_TRUE(b.vm->WaitFor("initos.init.os-init: refused", kBootTimeout)) << b.vm->Tail();
  EXPECT_TRUE(b.vm->WaitFor("initos.init.mode: refused")) << b.vm->Tail();
  EXPECT_TRUE(b.vm->WaitFor("stage rootfs failed")) << b.vm->Tail();
  ExpectNoAttack(b);
}

// init.mode = "jails" without any [[jail]] entry: the boot stops under the
// failure policy instead of running the main program unconfined.
TEST(Pid1Hardening, JailsModeWithoutJailsStopsTheBoot) {
  INITOS_REQUIRE_QEMU();
  std::string marker = Marker("MAIN-RAN");
  InitramfsSpec spec =
      BrokenConfigSpec(MainConfig("poweroff", "mode = \"jails\"\nfailure-delay-s = 0\n") +
                           "[rootfs]\non-failure = \"poweroff\"\n",
                       "echo " + marker + "\n");
  auto vm = BuildAndBoot(spec);
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitFor("\"jails\" needs at least one [[jail]] entry", kBootTimeout))
      << vm->Tail();
  EXPECT_TRUE(vm->WaitFor("stage policy failed")) << vm->Tail();
  auto code = vm->WaitExit();
  ASSERT_TRUE(code) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), "\n" + marker)) << vm->Tail();
  EXPECT_FALSE(Contains(vm->Output(), kKernelPanic)) << vm->Tail();
}

// virtio_blk is a module here: the disk only shows up if PID 1 loaded it (and
// its dependencies) from the initramfs.
TEST(Pid1Boot, LoadsConfiguredModulesAndDiskAppears) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  std::string disk = dir + "/disk.raw";
  {
    std::ofstream f(disk);
    f.seekp(8 * 1024 * 1024 - 1);
    f.put('\0');
  }
  const std::string body = R"SH(
n=0
while [ ! -e /sys/block/vda ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n+1)); done
echo MOD-BLK=$(grep -c '^virtio_blk ' /proc/modules)
echo MOD-RING=$(grep -c '^virtio_ring ' /proc/modules)
[ -d /sys/module/virtio_blk ] && echo SYSMODULE=yes
[ -e /sys/block/vda ] && echo DISK=vda size=$(cat /sys/block/vda/size)
)SH";
  InitramfsSpec spec =
      MainSpec(MainConfig("poweroff", "modules = [\"virtio_pci\", \"virtio_blk\"]\n"), body);
  spec.modules = {"virtio_pci", "virtio_blk"};
  auto vm = BuildAndBoot(spec, "", {disk});
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->WaitForRegex(R"(MOD-BLK=[0-9]+)", kBootTimeout)) << vm->Tail();
  ASSERT_TRUE(vm->WaitExit()) << vm->Tail();
  const std::string& out = vm->Tail();
  EXPECT_TRUE(Contains(out, "MOD-BLK=1")) << vm->Tail();
  EXPECT_TRUE(Contains(out, "MOD-RING=1")) << vm->Tail();
  EXPECT_TRUE(Contains(out, "SYSMODULE=yes")) << vm->Tail();
  EXPECT_TRUE(Contains(out, "DISK=vda size=16384")) << vm->Tail();  // 8 MiB in 512-byte sectors
}

TEST(Pid1Boot, ReaperModeReturnsChildExitCode) {
  INITOS_REQUIRE_QEMU();
  auto vm = BuildAndBoot(MainSpec(MainConfig("poweroff"),
                                  "/init reap -- /bin/busybox sh -c 'exit 3'\n"
                                  "echo REAP-RC=$?\n"
                                  "/init reap -- /bin/busybox sh -c 'kill -9 $$'\n"
                                  "echo REAP-KILLED-RC=$?\n"));
  ASSERT_TRUE(vm);
  auto rc = vm->WaitForRegex(R"(REAP-RC=[0-9]+)", kBootTimeout);
  ASSERT_TRUE(rc) << vm->Tail();
  EXPECT_EQ(*rc, "REAP-RC=3");
  auto killed = vm->WaitForRegex(R"(REAP-KILLED-RC=[0-9]+)");
  ASSERT_TRUE(killed) << vm->Tail();
  EXPECT_EQ(*killed, "REAP-KILLED-RC=137");  // 128 + SIGKILL, as tini reports
}

}  // namespace
}  // namespace initos::qemu

namespace initos::qemu {
namespace {

// Issue 13: on an EFI boot (OVMF without Secure Boot, kernel loaded by the
// firmware) PID 1 loads the efivarfs module from the initramfs, mounts it
// read-only, and logs what the firmware says in one line; the main program
// cannot write a variable through the mount.
TEST(Pid1Boot, EfiBootReadsSecureBootFromReadOnlyEfivarfs) {
  INITOS_REQUIRE_QEMU();
  const std::string code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  const std::string vars_template = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  ASSERT_EQ(::access(code.c_str(), R_OK), 0) << code << ": apt-get install ovmf";
  std::string dir = TestWorkDir();
  std::string vars = dir + "/vars.fd";
  {
    std::ifstream in(vars_template, std::ios::binary);
    std::ofstream out(vars, std::ios::binary);
    out << in.rdbuf();
    ASSERT_TRUE(out.good()) << vars;
  }
  std::string marker = Marker("EFI-MAIN");
  InitramfsSpec spec = MainSpec(
      MainConfig("poweroff"),
      "grep efivarfs /proc/mounts | sed 's/^/EFIVARFS-MOUNT /'\n"
      "if printf '\\007\\000\\000\\000\\001' > "
      "/sys/firmware/efi/efivars/InitosTest-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f 2>/dev/null; "
      "then echo EFIVAR-WRITE-OK; else echo EFIVAR-WRITE-REFUSED; fi\n"
      "echo " +
          marker + "\n");
  spec.modules = {"efivarfs"};  // in the initramfs, not in init.modules: PID 1 loads it on EFI
  auto img = BuildInitramfs(spec, dir);
  ASSERT_TRUE(img.ok()) << img.error().str();
  QemuOptions o = BootOptions(*img);
  o.firmware_code = code;
  o.firmware_vars = vars;
  auto q = Qemu::Start(o);
  ASSERT_TRUE(q.ok()) << q.error().str();
  Qemu& vm = **q;
  auto line = vm.WaitForRegex(R"(initos: secure boot: [^\n]*, verified mode)", kBootTimeout);
  ASSERT_TRUE(line) << vm.Tail();
  // Debian's OVMF_CODE_4M.fd supports Secure Boot; the empty variable store
  // leaves it in setup mode with SecureBoot = 0.
  EXPECT_EQ(*line, "initos: secure boot: off (setup mode), verified mode") << vm.Tail();
  ASSERT_TRUE(vm.WaitFor(marker, kBootTimeout)) << vm.Tail();
  const std::string& out = vm.Output();
  EXPECT_TRUE(std::regex_search(
      out,
      std::regex(
          R"(EFIVARFS-MOUNT efivarfs /sys/firmware/efi/efivars efivarfs ro,nosuid,nodev,noexec)")))
      << vm.Tail();
  EXPECT_TRUE(Contains(out, "EFIVAR-WRITE-REFUSED")) << vm.Tail();
  EXPECT_FALSE(Contains(out, "EFIVAR-WRITE-OK")) << vm.Tail();
  EXPECT_TRUE(vm.WaitExit()) << vm.Tail();
  EXPECT_FALSE(Contains(out, kKernelPanic)) << vm.Tail();
}

}  // namespace
}  // namespace initos::qemu
