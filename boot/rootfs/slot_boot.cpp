#include "boot/rootfs/slot_boot.h"

#include <algorithm>

#include "base/log.h"
#include "os/boot_state_file.h"

namespace initos {
inline namespace boot {

uint64_t SlotVersionFloor(uint64_t min_version, const BootState& s) {
  return std::max(min_version, s.highest_good_version);
}

SlotFallback PlanSlotFallback(const BootState& s, Slot failed, bool first_boot) {
  SlotFallback f;
  auto marked = MarkBad(s, failed);  // never fails; keeps the state if it ever did
  f.marked = marked.ok() ? *marked : s;
  Slot other = OtherSlot(failed);
  const SlotState& o = f.marked.at(other);
  if (!o.good && o.tries_left == 0 && !first_boot) return f;
  BootDecision d = ChooseBootSlot(f.marked);
  if (d.slot != other) return f;  // cannot happen after MarkBad; never retry the failed slot
  if (!o.good && o.tries_left == 0)
    d.why = "first boot: slot " + std::string(SlotName(failed)) + " failed, trying slot " +
            std::string(SlotName(other));
  f.next = d;
  return f;
}

std::optional<BootState> RecordVerifiedVersion(const BootState& s, Slot slot, uint64_t version) {
  if (s.at(slot).version == version) return std::nullopt;
  BootState n = s;
  n.at(slot).version = version;
  n.at(slot).good = false;  // a good mark was for other bytes
  ++n.sequence;
  return n;
}

namespace {

// A failed store is logged, not fatal: refusing to boot a verified image
// because the record cannot be written would turn a worn-out state
// partition into a bricked machine. The cost: a trial that crashes is not
// counted (docs/upgrades.md).
void Store(BootStateFile& file, const BootState& s, const std::string& who, const char* what) {
  auto r = file.Store(s);
  if (!r.ok())
    LOG(Error) << who << ": cannot store the boot-state record (" << what
               << "): " << r.error().str();
}

}  // namespace

Result<bool> MarkBootedSlotGood(const MountedRoot& root) {
  if (!root.slot || root.state_dir.empty()) return false;
  auto file = BootStateFile::Open(root.state_dir, false,
                                  root.slot_record.empty() ? kBootStatePath : root.slot_record);
  if (!file.ok()) return file.error();
  auto l = file->Load();
  if (!l.ok()) return l.error();
  if (l->state.at(*root.slot).good) return false;
  auto next = MarkGood(l->state, *root.slot);
  if (!next.ok()) return next.error();
  INITOS_TRY(file->Store(*next));
  return true;
}

Result<MountedRoot> MountSlotRoot(const Config& config, const BootEnv& env) {
  const RootfsConfig& rc = config.rootfs;
  if (rc.slots.size() != 2)
    return Err() << "rootfs: rootfs.slots must list two slots; fix the signed config";
  auto state_dir = MountStatePartition(config.state, env);
  if (!state_dir.ok()) return state_dir.error();
  if (state_dir->empty())
    return Err() << "rootfs: rootfs.slots needs the state partition for the boot-state record; "
                    "set state.device in the signed config";
  return MountSlotRootOn(config, env, *state_dir);
}

SlotSet OsSlots(const Config& config) {
  return SlotSet{config.rootfs.slots, kBootStatePath, "rootfs"};
}

Result<MountedRoot> MountSlotRootOn(const Config& config, const BootEnv& env,
                                    const std::string& state_dir) {
  return MountSlotRootOn(config, env, state_dir, OsSlots(config));
}

Result<MountedRoot> MountSlotRootOn(const Config& config, const BootEnv& env,
                                    const std::string& state_dir_path, const SlotSet& set) {
  const RootfsConfig& rc = config.rootfs;
  const std::string* state_dir = &state_dir_path;
  const std::string& who = set.what;
  if (set.locators.size() != 2)
    return Err() << who << ": two slots are needed, " << set.locators.size()
                 << " configured; fix the signed config";
  auto file = BootStateFile::Open(*state_dir, true, set.record);
  if (!file.ok()) return Wrap(file.error(), who + ": boot-state record");

  BootState state;
  bool first_boot = false;
  auto loaded = file->Load();
  if (!loaded.ok()) {
    first_boot = true;
    LOG(Notice) << who << ": no valid boot-state record (" << loaded.error().str()
                << "): first boot, slot a";
  } else {
    state = loaded->state;
    if (!loaded->note.empty()) LOG(Warning) << who << ": boot-state record: " << loaded->note;
  }

  BootDecision d = ChooseBootSlot(state);
  // Before anything of the slot is read: a crash from here on has used the try.
  if (d.changed || first_boot) Store(*file, d.next, who, "the slot decision");
  state = d.next;
  LOG(Notice) << who << ": booting slot " << SlotName(d.slot) << ": " << d.why;

  Slot slot = d.slot;
  for (int attempt = 0;; ++attempt) {
    const std::string& locator = set.locators[static_cast<size_t>(slot)];
    ImageRequest req{locator, *state_dir, SlotVersionFloor(rc.min_version, state),
                     "image-fs-" + std::string(SlotName(slot))};
    auto root = MountVerifiedImage(config, env, req);
    if (root.ok()) {
      root->slot = slot;
      root->slot_record = set.record;
      if (auto n = RecordVerifiedVersion(state, slot, root->image.version)) {
        LOG(Info) << who << ": slot " << SlotName(slot) << " holds version " << root->image.version
                  << " (record said " << state.at(slot).version << ")";
        Store(*file, *n, who, "the verified version");
      }
      return root;
    }
    LOG(Error) << who << ": slot " << SlotName(slot) << " (" << locator
               << ") failed: " << root.error().str();
    SlotFallback f = PlanSlotFallback(state, slot, first_boot);
    Store(*file, f.marked, who, "slot marked bad");
    state = f.marked;
    if (attempt > 0)
      return Err() << who << ": slot " << SlotName(OtherSlot(slot)) << " failed and slot "
                   << SlotName(slot) << " failed too: " << root.error().str();
    if (!f.next)
      return Err() << who << ": slot " << SlotName(slot) << " failed and slot "
                   << SlotName(OtherSlot(slot))
                   << " is neither good nor on trial: " << root.error().str();
    if (f.next->changed) Store(*file, f.next->next, who, "the fallback decision");
    state = f.next->next;
    slot = f.next->slot;
    LOG(Notice) << who << ": booting slot " << SlotName(slot) << " instead: " << f.next->why;
  }
}

}  // namespace boot
}  // namespace initos
