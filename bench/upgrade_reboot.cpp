// Reboot to healthy on the new slot (issue 12's figure; bench/upgrade.sh
// runs this as BUILD/bench/upgrade_reboot): the QEMU upgrade fixture
// (qemu-tests/upgrade_fixture.h: busybox "OS" bundles, an os-a/os-b/state
// GPT disk, the initramfs with the sidecar), TCG unless INITOS_QEMU_ACCEL.
// One machine, two sides interleaved run by run:
//   a: `initos upgrade apply` of the next version over ssh (not timed),
//      then the clock starts: `sync; reboot -f` from the sidecar, QEMU
//      exits (-no-reboot), a new QEMU boots the disk, PID 1 picks the new
//      slot, the OS starts, and the clock stops when `initos upgrade
//      mark-good` over ssh returns 0 on the new slot ("healthy": the boot
//      is marked good, the version floor rose).
//   b: the same reboot with nothing applied: the machine boots its current
//      (good) slot again; the clock stops at the same mark-good.
// Env: INITOS_BENCH_OUT (file; gets "a MS" / "b MS" lines),
// INITOS_BENCH_N (repetitions, default 1). A gtest program only for the
// fixture's helpers and failure reporting; not part of the test suites.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "qemu-tests/debian_fixture.h"
#include "qemu-tests/harness.h"
#include "qemu-tests/upgrade_fixture.h"

namespace initos::qemu {
namespace {

using Clock = std::chrono::steady_clock;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class UpgradeReboot : public ::testing::Test {
 protected:
  // Boots the disk, waits for the verified slot and the OS, then retries
  // mark-good until the sidecar answers it. The booted slot, or nullopt.
  std::optional<BootedSlot> BootToHealthy(const std::string& tag) {
    vm_ = BootSlots(initramfs_, disk_, port_, TestLogPath() + "." + tag);
    if (!vm_) return std::nullopt;
    auto b = WaitBooted(*vm_);
    if (!b) return b;
    auto deadline = Clock::now() + kBootTimeout;
    while (Clock::now() < deadline) {
      auto [code, out] = Ssh(port_, sh_->ssh_key, "initos upgrade mark-good");
      Drain(*vm_);
      if (code == 0) return b;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "mark-good never succeeded on slot " << b->slot << "\n" << vm_->Tail(60);
    return std::nullopt;
  }

  // Reboots from the sidecar into whatever the record says next: ms from
  // the reboot command to mark-good done, and what booted. -1 on failure.
  double TimedReboot(const std::string& tag, BootedSlot* booted) {
    auto t0 = Clock::now();
    RebootFromSidecar(vm_, port_, sh_->ssh_key);
    auto b = BootToHealthy(tag);
    auto t1 = Clock::now();
    if (!b) return -1;
    *booted = *b;
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
  }

  const UpgradeShared* sh_ = nullptr;
  int port_ = 0;
  SlotsDisk disk_;
  std::string initramfs_;
  std::unique_ptr<Qemu> vm_;
};

TEST_F(UpgradeReboot, ToHealthyOnTheNewSlotVsAPlainReboot) {
  INITOS_REQUIRE_QEMU();
  const char* out_path = std::getenv("INITOS_BENCH_OUT");
  ASSERT_TRUE(out_path && *out_path) << "set INITOS_BENCH_OUT (bench/upgrade.sh does)";
  std::ofstream out(out_path, std::ios::trunc);
  int n = EnvInt("INITOS_BENCH_N", 1);
  sh_ = &GetUpgradeShared();
  ASSERT_EQ(sh_->error, "");
  std::string dir = TestWorkDir();
  port_ = FreePort();
  ASSERT_NE(port_, 0);
  // Small bundles (~0.6 MiB): each version rewrites one 16 KiB file.
  std::string v1 = UpgradeBundle(1, Variant::kOneFile);
  ASSERT_FALSE(v1.empty());
  disk_ = MakeSlotsDisk(dir, v1);
  initramfs_ = UpgradeInitramfs(dir);
  ASSERT_FALSE(initramfs_.empty());
  auto first = BootToHealthy("boot0");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->version, 1u);

  char slot = first->slot;
  uint64_t version = 1;
  // a: apply the next version, reboot into it.
  auto upgrade = [&](int i) {
    std::string bundle = UpgradeBundle(version + 1, Variant::kOneFile);
    ASSERT_FALSE(bundle.empty());
    auto [code, msg] = SshWithInput(port_, sh_->ssh_key, "initos upgrade apply", bundle);
    Drain(*vm_);
    ASSERT_EQ(code, 0) << msg;
    BootedSlot b;
    double ms = TimedReboot("new" + std::to_string(i), &b);
    ASSERT_GE(ms, 0);
    // The new version on the other slot, not a fallback.
    ASSERT_EQ(b.version, version + 1);
    ASSERT_EQ(b.os_version, version + 1);
    ASSERT_NE(b.slot, slot);
    slot = b.slot;
    ++version;
    out << "a " << ms << std::endl;
  };
  // b: reboot into the current slot.
  auto plain = [&](int i) {
    BootedSlot b;
    double ms = TimedReboot("same" + std::to_string(i), &b);
    ASSERT_GE(ms, 0);
    ASSERT_EQ(b.version, version);
    ASSERT_EQ(b.slot, slot);
    out << "b " << ms << std::endl;
  };
  for (int i = 1; i <= n; ++i) {
    // Interleaved, the order alternating run by run.
    if (i % 2) {
      upgrade(i);
      if (HasFatalFailure()) return;
      plain(i);
    } else {
      plain(i);
      if (HasFatalFailure()) return;
      upgrade(i);
    }
    if (HasFatalFailure()) return;
    std::cerr << "run " << i << ": on slot " << slot << " v" << version << "\n";
  }
  Ssh(port_, sh_->ssh_key, "sync; /bin/busybox poweroff -f");
  vm_->WaitExit(Seconds(20));
}

}  // namespace
}  // namespace initos::qemu
