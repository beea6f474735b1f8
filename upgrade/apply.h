// `initos upgrade apply`: a signed bundle from a stream (a file, or stdin
// through `ssh host initos upgrade apply < new.bundle`) into the inactive
// A/B slot, marked to be tried next. The order is what makes it safe:
//  1. the header is read and its signature, key, name, version and size are
//     checked before anything is written;
//  2. the rest is staged in an unlinked file (O_TMPFILE on the state
//     partition) and the whole bundle verified there, so a bundle corrupted
//     in transit or cut short changes no slot;
//  3. only then is the inactive slot marked empty in the boot-state record
//     (fsync'd: a power cut from here on never boots a half-written slot),
//     the bundle copied in, fsync'd, dropped from the page cache and
//     verified again from the disk;
//  4. and the slot is marked next with a bounded number of tries.
// The running slot and its record entry never change.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/boot_slots.h"
#include "format/manifest.h"
#include "format/signing.h"
#include "os/boot_state_file.h"

namespace initos {
inline namespace upgrade {

struct ApplyTarget {
  std::string slot_path;  // block device or file of the inactive slot
  Slot slot = Slot::kB;
  std::string name;  // rootfs.name: the manifest must carry it
  std::vector<SigningKey> keys;
  uint64_t floor = 0;  // versions below are refused
  uint32_t tries = 3;
  std::string staging_dir;  // where the O_TMPFILE goes (the state partition)
};

// bytes done, bytes total, for the progress line.
using ApplyProgressFn = std::function<void(uint64_t, uint64_t)>;

Result<Manifest> ApplyBundle(int in_fd, const ApplyTarget& target, BootStateFile& record,
                             const ApplyProgressFn& progress = {});

// The steps apply shares with the delta receiver (upgrade/delta_receive.h).
// Step 1: the header area (kBundleHeaderAreaSize bytes) checked against the
// target: signature, key, name, version floor, slot size. Nothing is written.
Result<Manifest> CheckBundleHeader(std::string_view area, const ApplyTarget& target);
// An unlinked staging file in target.staging_dir.
Result<unique_fd> StagingFile(const ApplyTarget& target);
// Steps 2-4 once a complete bundle is staged: verify it, then install it
// into the slot and mark it next.
Result<Manifest> InstallStaged(int stage_fd, const Manifest& expected, const ApplyTarget& target,
                               BootStateFile& record);

// "12.0 MiB of 300.0 MiB, 40.1 MiB/s, ETA 7 s" (pure, for the CLI).
std::string ProgressLine(uint64_t done, uint64_t total, double seconds);

}  // namespace upgrade
}  // namespace initos
