// The A/B slot step of the rootfs stage (rootfs.slots, docs/upgrades.md):
// PID 1 mounts the state partition, loads the boot-state record
// (os/boot_state_file.h; missing or no valid copy = first boot, slot a),
// chooses the slot (format/boot_slots.h ChooseBootSlot) and stores that
// decision, fsync'd, BEFORE it verifies or boots the slot, so a crash or a
// power cut during a trial boot has already used up one try. The chosen
// slot is then verified and mounted exactly like rootfs.image; a slot that
// fails verification is marked bad and the other one is booted in the same
// boot when it is good or still has tries.
//
// The version floor is max(rootfs.min-version, the record's highest version
// marked good): it rises only on mark-good, so a fallback slot stays
// bootable while a new one is on trial.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "boot/rootfs/rootfs_stage.h"
#include "format/boot_slots.h"
#include "format/config.h"

namespace initos {
inline namespace boot {

// Pure: the floor a slot's image must reach.
uint64_t SlotVersionFloor(uint64_t min_version, const BootState& s);

// Pure: after `failed` did not verify (or mount) in this boot. `marked` is
// the state with it marked bad (to store); `next` the slot to boot instead,
// nullopt when the other slot is neither good nor has tries (the boot then
// fails with the failure policy). On a first boot (no record) the other slot
// is tried whatever the record says: nothing is known about either.
struct SlotFallback {
  BootState marked;
  std::optional<BootDecision> next;
};
SlotFallback PlanSlotFallback(const BootState& s, Slot failed, bool first_boot);

// Pure: the record once `slot` verified with `version`: a slot whose record
// entry names another version (first boot, or written behind our back)
// takes the verified version and loses a good mark made for other bytes.
// nullopt when nothing changes.
std::optional<BootState> RecordVerifiedVersion(const BootState& s, Slot slot, uint64_t version);

// Jail mode's mark-good ([jails] mark-good-after-s): the booted slot is
// healthy, so it becomes good and the floor rises to it. false when there
// is nothing to do (no slots, or already good).
Result<bool> MarkBootedSlotGood(const MountedRoot& root);

// Which slots, which record: the OS root's (rootfs.slots, initos/boot-state)
// or a jail's (rootfs-slots, initos/jails/NAME/boot-state). The image is
// verified with the config's rootfs keys, name and min-version either way.
struct SlotSet {
  std::vector<std::string> locators;  // slot a, slot b (rootfs.image syntax)
  std::string record;                 // the record beneath the state partition
  std::string what = "rootfs";        // log prefix, e.g. "jail web"
};
SlotSet OsSlots(const Config& config);

// The executor: state partition, record, decision (stored), verify + mount.
Result<MountedRoot> MountSlotRoot(const Config& config, const BootEnv& env);
// The same with the state partition already mounted at state_dir (tests).
Result<MountedRoot> MountSlotRootOn(const Config& config, const BootEnv& env,
                                    const std::string& state_dir);
// The step itself, for any SlotSet (a jail's start uses it too).
Result<MountedRoot> MountSlotRootOn(const Config& config, const BootEnv& env,
                                    const std::string& state_dir, const SlotSet& set);

}  // namespace boot
}  // namespace initos
