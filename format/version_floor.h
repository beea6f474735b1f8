// Anti-rollback: which image versions PID 1 accepts. An image is accepted iff
// its version >= max(rootfs.min-version baked into the signed initramfs,
// the highest version recorded as booted successfully on the state partition).
//
// The record is one line "NAME VERSION ROOTHASH\n" in
// STATE/initos/booted-version. It is raised (never lowered) by PID 1 only
// after the main program started from the verified image. The record lives on
// the unverified state partition, so whoever can write that partition can
// delete it anyway: a record that is garbage, of another product (name), or
// not a regular file (symlink, directory, FIFO) is therefore not trusted and
// not fatal either. The floor falls back to the baked minimum, which only the
// signed initramfs sets, and the reason is logged. Refusing to boot instead
// would give a disk attacker a way to brick the device without stopping any
// rollback below rootfs.min-version.
// Decisions are pure; only ReadBootedRecordFile/ReadVersionFloor/
// RaiseBootedRecord touch files, and they never follow a symlink, never block
// on a FIFO and read at most kMaxRecordFileRead bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

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
  // Why a record that exists was not used (one phrase, for the log); "" when
  // it was used or there was none.
  std::string ignored;
};

// record_text: the record file's contents, nullopt when there is no file.
// `name` is rootfs.name: a record of another product is not ours and never
// moves the floor (neither up nor down). A record that does not parse is
// ignored with the reason in `ignored`.
VersionFloor ComputeVersionFloor(uint64_t baked_min, const std::optional<std::string>& record_text,
                                 std::string_view name);

// "image version 3 is below the minimum 5 (highest booted); refusing rollback".
Result<void> CheckVersionFloor(uint64_t version, const VersionFloor& floor);

// The record to write after a successful boot, nullopt when the existing one
// is of the same image name and already at or above `booted` (the record
// never goes down). An existing record that does not parse, or names another
// product, is replaced: the image just booted passed the floor check.
std::optional<BootedRecord> NextBootedRecord(const std::optional<std::string>& existing_text,
                                             const BootedRecord& booted);

// Bytes read from a record file at most: more than a record can hold, far
// less than a planted multi-gigabyte file.
inline constexpr size_t kMaxRecordFileRead = 4096;

// What is at STATE_ROOT/initos/booted-version.
struct RecordFile {
  enum class Kind { kAbsent, kRegular, kUnusable };
  Kind kind = Kind::kAbsent;
  std::string text;  // kRegular: the first kMaxRecordFileRead (+1) bytes
  std::string why;   // kUnusable: "is a symlink", "is a FIFO", "is a directory", ...
};

// Opens the record relative to the state mount with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS) and O_NOFOLLOW | O_NONBLOCK: a symlink anywhere in
// the path is not followed, a FIFO without a writer does not block; fstat
// must say regular file; the read is bounded.
RecordFile ReadBootedRecordFile(const std::string& state_root);

// Reads the record (state_root "" = no state partition: the floor is the
// baked minimum) and computes the floor for image `name`. Never fails: a
// record that cannot be used is reported in VersionFloor::ignored and the
// baked minimum applies.
VersionFloor ReadVersionFloor(const std::string& state_root, uint64_t baked_min,
                              std::string_view name);

// Raises the record under state_root: a temp file created with O_EXCL |
// O_NOFOLLOW in the initos/ directory opened with O_DIRECTORY | O_NOFOLLOW,
// fsynced, renamed over whatever is at the record path (a planted symlink or
// FIFO is replaced, never followed) and the directory fsynced, so a crash
// leaves the old or the new record, never a torn one. A directory at the
// record path is an error (nothing is removed). Returns true when it wrote,
// false when the record was already high enough.
Result<bool> RaiseBootedRecord(const std::string& state_root, const BootedRecord& booted);

}  // namespace format
}  // namespace initos
