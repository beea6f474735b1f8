// Anti-rollback: which image versions PID 1 accepts. An image is accepted iff
// its version >= max(rootfs.min-version baked into the signed initramfs,
// the highest version recorded as booted successfully on the state partition).
//
// The record is one line "NAME VERSION ROOTHASH\n" in
// STATE/initos/booted-version. It is raised (never lowered) by PID 1 only
// after the main program started from the verified image. A record that is
// present but unreadable or malformed is an error, not "no record": silently
// falling back to the baked minimum would accept a rollback (fail closed).
// Decisions are pure; only ReadVersionFloor/RaiseBootedRecord touch files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {

// Relative to the state partition's mount point.
inline constexpr std::string_view kBootedRecordPath = "initos/booted-version";

struct BootedRecord {
  std::string name;       // image name from the manifest
  uint64_t version = 0;   // image version
  std::string root_hash;  // lowercase hex verity root hash
  bool operator==(const BootedRecord&) const = default;
};

// Strict: exactly three fields separated by one space, one trailing newline,
// name [A-Za-z0-9._+-]{1,64}, decimal version without leading zeros,
// lowercase hex root hash (even length, 16..128 digits).
Result<BootedRecord> ParseBootedRecord(std::string_view text);
std::string SerializeBootedRecord(const BootedRecord& r);

struct VersionFloor {
  uint64_t minimum = 0;
  std::string source;  // "rootfs.min-version" or "highest booted"
};

// record_text: the record file's contents, nullopt when there is no file.
Result<VersionFloor> ComputeVersionFloor(uint64_t baked_min,
                                         const std::optional<std::string>& record_text);

// "image version 3 is below the minimum 5 (highest booted); refusing rollback".
Result<void> CheckVersionFloor(uint64_t version, const VersionFloor& floor);

// The record to write after a successful boot, nullopt when the existing one
// is already at or above `booted` (the record never goes down). An existing
// record that does not parse is replaced: the image just booted passed the
// floor check, which refused to boot with a malformed record, so this only
// happens when it was damaged after boot.
std::optional<BootedRecord> NextBootedRecord(const std::optional<std::string>& existing_text,
                                             const BootedRecord& booted);

// Reads STATE_ROOT/initos/booted-version (state_root "" = no state
// partition: the floor is the baked minimum) and computes the floor. A
// missing file is "no record"; any other read error fails closed.
Result<VersionFloor> ReadVersionFloor(const std::string& state_root, uint64_t baked_min);

// Raises the record under state_root (temp file + fsync + rename + fsync of
// the directory, so a crash leaves the old or the new record, never a torn
// one). Returns true when it wrote, false when the record was already high
// enough.
Result<bool> RaiseBootedRecord(const std::string& state_root, const BootedRecord& booted);

}  // namespace initos
