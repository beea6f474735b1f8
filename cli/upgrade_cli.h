// `initos upgrade apply|receive|push|status|mark-good|mark-bad|rollback`
// (issue 12, docs/upgrades.md). Admins run it in the SSH sidecar, which
// sees what it needs at the same paths as PID 1 did: the signed config and
// the trusted keys (/etc/initos, copied from the initramfs), the state
// partition with the boot-state record (/run/initos/state, bound in by the
// launcher), the slot devices (/dev, /sys), and the booted slot in its own
// copy of the boot status (/run/initos/status). `push` runs on the admin's
// machine and talks to `receive` through one ssh connection.
//
// The commands' logic takes an UpgradeSetup so tests run it against files
// as slots; UpgradeMain only parses options, resolves the setup and prints.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/boot_slots.h"
#include "format/config.h"
#include "format/manifest.h"
#include "upgrade/apply.h"
#include "upgrade/delta_transfer.h"

namespace initos {
inline namespace cli {

int UpgradeMain(const std::vector<std::string>& args);

// Where the sidecar finds things; options override each (tests, recovery).
struct UpgradePaths {
  std::string config = std::string(kDefaultConfigPath);  // --config
  std::string state = "/run/initos/state";               // --state
  std::string status_root;     // boot status at STATUS_ROOT/run/initos/status
  std::string slot_a, slot_b;  // --slot-a/--slot-b: instead of rootfs.slots
  std::string booted;          // --booted a|b: instead of the boot status
  std::string jail;            // --jail NAME: that jail's rootfs-slots and record
  std::string dev_dir = "/dev";
  std::string class_block_dir = "/sys/class/block";
};

struct UpgradeSetup {
  Config config;
  std::string state_dir;
  std::array<std::string, 2> slot_paths;  // block device or file, a then b
  std::optional<Slot> booted;             // nullopt: unknown (status has no slot)
  // --jail: the jail's slots, record (STATE/initos/jails/NAME/boot-state),
  // rootfs-name and tries; its started slot is the record's primary.
  std::string jail;
};

// The record the setup works on, relative to state_dir.
std::string RecordPath(const UpgradeSetup& setup);
// Trial boots (starts) of a new slot: rootfs.tries, or the jail's rootfs-tries.
uint32_t SlotTries(const UpgradeSetup& setup);

// Config (problems in it are an error), slot paths, booted slot.
// record_only (status, mark-good, mark-bad, rollback): only the record and
// the booted slot are needed, so a missing config is no error and the slots
// are not resolved; that is what lets the booted OS run `initos upgrade
// mark-good` (it has /run/initos/state and /run/initos/status, not the
// initramfs' /etc/initos).
Result<UpgradeSetup> LoadUpgradeSetup(const UpgradePaths& paths, bool record_only = false);

// Pure: where a slot locator is in the sidecar. PARTLABEL= is a device
// found by the caller; LABEL=x:/f is the file f on the state partition when
// x is the state partition (state_dev_matches), else an error naming
// --slot-a/--slot-b.
Result<std::string> SlotPathFor(const std::string& locator, const std::string& device,
                                bool state_dev_matches, const std::string& state_dir);

// The inactive slot as an apply/receive target: keys from rootfs.keys,
// floor max(rootfs.min-version, highest good), tries rootfs.tries, staged
// on the state partition. Needs the booted slot.
Result<ApplyTarget> InactiveTarget(const UpgradeSetup& setup, const BootState& record);

// The commands (the record is STATE/initos/boot-state).
Result<Manifest> UpgradeApply(const UpgradeSetup& setup, int in_fd,
                              const ApplyProgressFn& progress);
Result<Manifest> UpgradeReceive(const UpgradeSetup& setup, int in_fd, int out_fd);
Result<std::string> UpgradeStatus(const UpgradeSetup& setup);
Result<BootState> UpgradeMarkGood(const UpgradeSetup& setup);
Result<BootState> UpgradeMarkBad(const UpgradeSetup& setup, std::optional<Slot> slot);
Result<BootState> UpgradeRollback(const UpgradeSetup& setup);

// `push [-p PORT] [-i KEY] [-o OPT]... HOST BUNDLE`: the ssh argv (pure).
struct PushPlan {
  std::vector<std::string> ssh;
  std::string bundle;
};
Result<PushPlan> ParsePushArgs(const std::vector<std::string>& args);
// "sent 1258291 of 314572800 bytes (1.2 MiB of 300.0 MiB, 0.4%);
//  75000 of 76800 blocks reused" (one line; the exact byte counts first)
std::string PushSummary(const DeltaStats& stats, uint64_t bundle_size);

}  // namespace cli
}  // namespace initos
