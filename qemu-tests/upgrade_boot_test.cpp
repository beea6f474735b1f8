// A/B upgrades end to end (issue 12) on a real kernel: a GPT disk with
// os-a, os-b and state, the busybox "OS" of upgrade_fixture.h switch-rooted
// with the SSH sidecar beside it, and the admin's commands over ssh through
// QEMU's port forward:
//  - `ssh ... initos upgrade apply < bundle`, reboot, the new slot boots;
//    refusals (other key, corrupted in transit, older version) change
//    neither slot (sha256 of both partitions read from the disk image);
//  - `initos upgrade push` of a one-file change sends a small fraction of
//    the bundle (the byte count the command prints);
//  - a slot never marked good falls back after rootfs.tries boots;
//  - power cut (QEMU killed with SIGKILL) at a random instant during apply
//    and during the first boot of the new slot: every next boot comes up on
//    a verified slot (PID 1's verified line and the OS's marker).
// Power-cut trials per test: INITOS_POWERCUT_TRIALS (default 10; two tests,
// so CI runs 20). Boots are few and small: one guest serves many steps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <regex>
#include <thread>

#include "base/file.h"
#include "qemu-tests/upgrade_fixture.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int PowerCutTrials() {
  const char* v = std::getenv("INITOS_POWERCUT_TRIALS");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : 10;
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A copy of `bundle` with one byte in the middle of its data flipped: what
// a bad link would deliver. The header (signature) stays intact.
std::string Corrupted(const std::string& bundle, const std::string& dir) {
  std::string out = dir + "/corrupted.bundle";
  fs::copy_file(bundle, out, fs::copy_options::overwrite_existing);
  auto fd = OpenFile(out, O_RDWR);
  EXPECT_TRUE(fd.ok());
  off_t at = static_cast<off_t>(fs::file_size(out) / 2);
  char c = 0;
  EXPECT_EQ(::pread(fd->get(), &c, 1, at), 1);
  c ^= 0x20;
  EXPECT_EQ(::pwrite(fd->get(), &c, 1, at), 1);
  return out;
}

// A booted guest and the helpers every test uses on it.
class UpgradeBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    sh_ = &GetUpgradeShared();
    ASSERT_EQ(sh_->error, "");
    dir_ = TestWorkDir();
    port_ = FreePort();
    ASSERT_NE(port_, 0);
  }

  // Boots the disk and waits for a verified slot, the OS and ssh.
  std::optional<BootedSlot> Boot(const std::string& tag) {
    vm_ = BootSlots(initramfs_, disk_, port_, TestLogPath() + "." + tag);
    if (!vm_) return std::nullopt;
    auto b = WaitBooted(*vm_);
    if (!b) return b;
    if (WaitForSsh(*vm_, port_, sh_->ssh_key, 120) < 0) {
      ADD_FAILURE() << "no ssh into the sidecar\n" << vm_->Tail(60);
      return std::nullopt;
    }
    return b;
  }

  std::pair<int, std::string> Cmd(const std::string& cmd) {
    auto r = Ssh(port_, sh_->ssh_key, cmd);
    Drain(*vm_);
    return r;
  }
  std::pair<int, std::string> Apply(const std::string& bundle) {
    auto r = SshWithInput(port_, sh_->ssh_key, "initos upgrade apply", bundle);
    Drain(*vm_);
    return r;
  }
  void Reboot() { RebootFromSidecar(vm_, port_, sh_->ssh_key); }

  // `initos upgrade apply` of `bundle` is refused with one line naming
  // `why`, and neither slot changed.
  void ExpectRefused(const std::string& bundle, const std::string& why) {
    auto before = SlotHashes(disk_);
    auto [code, out] = Apply(bundle);
    EXPECT_NE(code, 0) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex(why, std::regex::icase))) << out;
    auto after = SlotHashes(disk_);
    EXPECT_EQ(after.first, before.first) << "slot a changed";
    EXPECT_EQ(after.second, before.second) << "slot b changed";
  }

  const UpgradeShared* sh_ = nullptr;
  std::string dir_;
  int port_ = 0;
  SlotsDisk disk_;
  std::string initramfs_;
  std::unique_ptr<Qemu> vm_;
};

TEST_F(UpgradeBoot, ApplyOverSshRebootsIntoTheNewVersionAndRefusalsChangeNothing) {
  INITOS_REQUIRE_QEMU();
  std::string v1 = UpgradeBundle(1), v2 = UpgradeBundle(2);
  std::string other = UpgradeBundle(3, Variant::kBase, /*other_key=*/true);
  ASSERT_FALSE(v1.empty() || v2.empty() || other.empty());
  disk_ = MakeSlotsDisk(dir_, v1);
  initramfs_ = UpgradeInitramfs(dir_);
  ASSERT_FALSE(initramfs_.empty());

  auto b1 = Boot("boot1");
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->slot, 'a');
  EXPECT_EQ(b1->version, 1u);
  EXPECT_EQ(b1->os_version, 1u);
  // A fresh machine's slot a is not good yet; apply refuses to replace the
  // only fallback until the running slot is confirmed.
  auto [ng, not_good] = Apply(v2);
  EXPECT_NE(ng, 0) << not_good;
  EXPECT_NE(not_good.find("not marked good"), std::string::npos) << not_good;
  EXPECT_EQ(Cmd("initos upgrade mark-good").first, 0);

  // Refused before anything is written: another key; a bundle corrupted in
  // transit (caught by the full verify of the staged copy).
  ExpectRefused(other, "key|signature");
  ExpectRefused(Corrupted(v2, dir_), "verif|hash|corrupt|mismatch");

  auto [code, out] = Apply(v2);
  ASSERT_EQ(code, 0) << out << "\n" << vm_->Tail();
  // Progress on stderr (ssh passes it through): bytes done of the total
  // (rate and ETA only on the lines of an apply longer than a second).
  EXPECT_TRUE(std::regex_search(out, std::regex(R"([0-9.]+ MiB of [0-9.]+ MiB)"))) << out;
  auto [sc, status] = Cmd("initos upgrade status");
  EXPECT_EQ(sc, 0) << status;
  EXPECT_TRUE(std::regex_search(status, std::regex("slot b: version 2, not good"))) << status;
  EXPECT_TRUE(std::regex_search(status, std::regex("slot a: version 1[^\n]*booted"))) << status;
  Reboot();

  auto b2 = Boot("boot2");
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->slot, 'b');
  EXPECT_EQ(b2->version, 2u);
  EXPECT_EQ(b2->os_version, 2u);
  auto [gc, good] = Cmd("initos upgrade mark-good");
  EXPECT_EQ(gc, 0) << good;
  auto [sc2, status2] = Cmd("initos upgrade status");
  EXPECT_EQ(sc2, 0) << status2;
  EXPECT_TRUE(std::regex_search(status2, std::regex("slot b: version 2, good[^\n]*booted")))
      << status2;

  // A validly signed older version is refused.
  ExpectRefused(v1, "version|older|rollback");
}

TEST_F(UpgradeBoot, PushOfAOneFileChangeSendsASmallFractionOfTheBundle) {
  INITOS_REQUIRE_QEMU();
  std::string v1 = UpgradeBundle(1), v2 = UpgradeBundle(2, Variant::kOneFile);
  ASSERT_FALSE(v1.empty() || v2.empty());
  disk_ = MakeSlotsDisk(dir_, v1);
  initramfs_ = UpgradeInitramfs(dir_);
  ASSERT_FALSE(initramfs_.empty());
  auto b1 = Boot("boot1");
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->version, 1u);
  EXPECT_EQ(Cmd("initos upgrade mark-good").first, 0);

  auto [code, out] = RunCapture(
      {INITOS_BINARY, "upgrade", "push", "-p", std::to_string(port_), "-i", sh_->ssh_key, "-o",
       "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
       "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "root@127.0.0.1", v2});
  Drain(*vm_);
  ASSERT_EQ(code, 0) << out << "\n" << vm_->Tail();
  // "sent 131072 of 3774873 bytes (0.1 MiB of 3.6 MiB, 3.5%); ..." (PushSummary).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(sent ([0-9]+) of ([0-9]+) bytes \()")))
      << out;
  uint64_t size = fs::file_size(v2);
  uint64_t sent = std::stoull(m[1]);
  EXPECT_EQ(std::stoull(m[2]), size) << out;
  // A one-file change: at least the changed 16 KiB /data/small (the device
  // cannot have its new blocks), less than a tenth of the bundle.
  EXPECT_GE(sent, 16u << 10) << out;
  EXPECT_LT(sent, size / 10) << "a one-file change sent more than a tenth of the bundle: " << out;
  RecordProperty("push_bytes_sent", std::to_string(sent));
  RecordProperty("bundle_bytes", std::to_string(size));
  std::cerr << "push: " << sent << " of " << size << " bytes\n";
  Reboot();

  auto b2 = Boot("boot2");
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->slot, 'b');
  EXPECT_EQ(b2->version, 2u);
  EXPECT_EQ(b2->os_version, 2u);
  // The changed file is the new one (assembled from sent blocks).
  auto [hc, sum] =
      Cmd("sha256sum /sysroot/data/small 2>/dev/null || "
          "nsenter -t 1 -m -r -- /bin/busybox sha256sum /data/small");
  EXPECT_EQ(hc, 0) << sum;
}

TEST_F(UpgradeBoot, NeverMarkedGoodFallsBackAfterItsTries) {
  INITOS_REQUIRE_QEMU();
  constexpr int kTries = 2;
  std::string v1 = UpgradeBundle(1), v2 = UpgradeBundle(2);
  ASSERT_FALSE(v1.empty() || v2.empty());
  disk_ = MakeSlotsDisk(dir_, v1);
  initramfs_ = UpgradeInitramfs(dir_, kTries);
  ASSERT_FALSE(initramfs_.empty());
  auto b = Boot("boot0");
  ASSERT_TRUE(b);
  ASSERT_EQ(b->version, 1u);
  EXPECT_EQ(Cmd("initos upgrade mark-good").first, 0);
  auto [code, out] = Apply(v2);
  ASSERT_EQ(code, 0) << out;
  Reboot();

  int boots_on_v2 = 0;
  for (int i = 1; i <= kTries + 2; ++i) {
    b = Boot("boot" + std::to_string(i));
    ASSERT_TRUE(b);
    if (b->version != 2) break;
    EXPECT_EQ(b->slot, 'b');
    ++boots_on_v2;
    Reboot();  // never marked good
  }
  EXPECT_EQ(boots_on_v2, kTries);
  EXPECT_EQ(b->slot, 'a');
  EXPECT_EQ(b->version, 1u);
  EXPECT_EQ(b->os_version, 1u);
  auto [sc, status] = Cmd("initos upgrade status");
  EXPECT_EQ(sc, 0) << status;
  EXPECT_TRUE(std::regex_search(status, std::regex("slot a: version 1, good[^\n]*booted")))
      << status;
}

// One power-cut trial's outcome, for the log (the soak lists every one).
struct Trial {
  int n;
  double cut_after_s;
  uint64_t offered;
  BootedSlot booted;
};

std::string Describe(const std::vector<Trial>& trials) {
  std::string s;
  for (const Trial& t : trials)
    s += "trial " + std::to_string(t.n) + ": cut at " + std::to_string(t.cut_after_s) +
         " s, offered v" + std::to_string(t.offered) + ", booted slot " + t.booted.slot + " v" +
         std::to_string(t.booted.version) + "\n";
  return s;
}

// Every trial: apply version v+1 (a one-file change of the running one), cut
// the power at a random instant of the apply (the first apply is not cut:
// it measures how long an apply takes), boot again. The next boot must be
// verified and be the old version or the new one.
TEST_F(UpgradeBoot, PowerCutDuringApplyAlwaysBootsAVerifiedSlot) {
  INITOS_REQUIRE_QEMU();
  std::string v1 = UpgradeBundle(1);
  ASSERT_FALSE(v1.empty());
  disk_ = MakeSlotsDisk(dir_, v1);
  initramfs_ = UpgradeInitramfs(dir_);
  ASSERT_FALSE(initramfs_.empty());
  auto b = Boot("trial0");
  ASSERT_TRUE(b);
  std::mt19937_64 rng{std::random_device{}()};
  double apply_s = 0;
  std::vector<Trial> trials;
  uint64_t running = b->version;
  for (int t = 1; t <= PowerCutTrials(); ++t) {
    // The booted OS is healthy: confirm it, as its health check would.
    ASSERT_EQ(Cmd("initos upgrade mark-good").first, 0) << vm_->Tail();
    uint64_t next = running + 1;
    std::string bundle = UpgradeBundle(next, Variant::kOneFile);
    ASSERT_FALSE(bundle.empty());
    double cut = -1;
    if (apply_s > 0) cut = std::uniform_real_distribution<double>(0, apply_s * 1.2)(rng);
    auto start = Clock::now();
    std::atomic<bool> done{false};
    // Not Apply(): the main thread owns the console (and kills QEMU).
    std::thread applier([&] {
      SshWithInput(port_, sh_->ssh_key, "initos upgrade apply", bundle);
      done = true;
    });
    if (cut < 0) {
      while (!done) vm_->Pump(std::chrono::milliseconds(200));
      applier.join();
      apply_s = SecondsSince(start);
      Ssh(port_, sh_->ssh_key, "sync");
      cut = apply_s;
    } else {
      // The console keeps flowing while the apply runs.
      vm_->Pump(std::chrono::milliseconds(static_cast<int64_t>(cut * 1000)));
    }
    vm_.reset();  // SIGKILL: the power cut
    if (applier.joinable()) applier.join();
    auto nb = Boot("trial" + std::to_string(t));
    ASSERT_TRUE(nb) << Describe(trials) << "trial " << t << " cut at " << cut << " s";
    EXPECT_TRUE(nb->version == running || nb->version == next) << nb->version;
    EXPECT_EQ(nb->os_version, nb->version);
    trials.push_back({t, cut, next, *nb});
    running = nb->version;
  }
  std::cerr << Describe(trials);
  RecordProperty("trials", Describe(trials));
}

// Every trial: apply version v+1 in full, reboot, cut the power at a random
// instant of the new slot's first boot (up to the OS's marker), boot again.
// The boot after the cut must be verified: the new slot (tries left) or the
// old one (tries used up by the cuts).
TEST_F(UpgradeBoot, PowerCutDuringTheNewSlotsFirstBootAlwaysBootsAVerifiedSlot) {
  INITOS_REQUIRE_QEMU();
  std::string v1 = UpgradeBundle(1);
  ASSERT_FALSE(v1.empty());
  disk_ = MakeSlotsDisk(dir_, v1);
  initramfs_ = UpgradeInitramfs(dir_);
  ASSERT_FALSE(initramfs_.empty());
  auto start = Clock::now();
  auto b = Boot("trial0");
  ASSERT_TRUE(b);
  double boot_s = SecondsSince(start);
  std::mt19937_64 rng{std::random_device{}()};
  std::vector<Trial> trials;
  uint64_t running = b->version;
  for (int t = 1; t <= PowerCutTrials(); ++t) {
    ASSERT_EQ(Cmd("initos upgrade mark-good").first, 0) << vm_->Tail();
    uint64_t next = running + 1;
    std::string bundle = UpgradeBundle(next, Variant::kOneFile);
    ASSERT_FALSE(bundle.empty());
    auto [code, out] = Apply(bundle);
    ASSERT_EQ(code, 0) << out;
    Reboot();
    double cut = std::uniform_real_distribution<double>(0, boot_s)(rng);
    vm_ = BootSlots(initramfs_, disk_, port_, TestLogPath() + ".cut" + std::to_string(t));
    ASSERT_TRUE(vm_);
    vm_->Pump(std::chrono::milliseconds(static_cast<int64_t>(cut * 1000)));
    vm_.reset();  // SIGKILL: the power cut
    auto nb = Boot("trial" + std::to_string(t));
    ASSERT_TRUE(nb) << Describe(trials) << "trial " << t << " cut at " << cut << " s";
    EXPECT_TRUE(nb->version == running || nb->version == next) << nb->version;
    EXPECT_EQ(nb->os_version, nb->version);
    trials.push_back({t, cut, next, *nb});
    running = nb->version;
  }
  std::cerr << Describe(trials);
  RecordProperty("trials", Describe(trials));
}

}  // namespace
}  // namespace initos::qemu
