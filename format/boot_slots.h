// A/B slots (issue 12): which root-image slot PID 1 boots, how many trial
// boots a new slot gets before the other one is used again, and the small
// record that carries this across boots.
//
// The record has two copies, each a fixed 512-byte block with a sequence
// number and a SHA-256 over the rest. A write goes to the copy that does not
// hold the newest state and is fsync'd before anything else happens, so a
// power cut during the write leaves the other copy intact: the reader takes
// the valid copy with the higher sequence number and says why it skipped the
// other. Everything here is pure; the file I/O is in the executor.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

enum class Slot : uint8_t { kA = 0, kB = 1 };
inline Slot OtherSlot(Slot s) {
  return s == Slot::kA ? Slot::kB : Slot::kA;
}
std::string_view SlotName(Slot s);  // "a", "b"
std::optional<Slot> ParseSlotName(std::string_view name);

struct SlotState {
  uint64_t version = 0;     // version of the bundle written there; 0 = empty
  bool good = false;        // booted and reported healthy
  uint32_t tries_left = 0;  // trial boots left while not good
  bool operator==(const SlotState&) const = default;
};

struct BootState {
  uint64_t sequence = 0;
  Slot primary = Slot::kA;  // booted while good, or tried while it has tries
  std::array<SlotState, 2> slots;
  // The highest version ever marked good: the version floor. It rises only
  // on mark-good, never when a slot is merely written or tried, so the
  // fallback slot stays bootable.
  uint64_t highest_good_version = 0;

  SlotState& at(Slot s) { return slots[static_cast<size_t>(s)]; }
  const SlotState& at(Slot s) const { return slots[static_cast<size_t>(s)]; }
  bool operator==(const BootState&) const = default;
};

inline constexpr size_t kBootStateCopySize = 512;

// One copy: magic, format, sequence, fields, zero padding, SHA-256 of the
// bytes before it. Always kBootStateCopySize bytes.
std::string EncodeBootState(const BootState& s);
// Refuses a wrong size or magic, an unknown format, a checksum mismatch
// ("torn or overwritten"), and field values out of range.
Result<BootState> DecodeBootState(std::string_view copy);

struct LoadedBootState {
  BootState state;
  int copy = 0;      // 0 or 1: the copy the state came from
  std::string note;  // why the other copy was not used ("" when both agree or it was older)
};
// The valid copy with the higher sequence number. Neither valid: an error
// naming both reasons (the caller decides: first boot, or a wiped record).
Result<LoadedBootState> PickBootState(std::string_view copy0, std::string_view copy1);
// Where the next write goes: never over the copy just loaded.
inline int NextCopy(const LoadedBootState& l) {
  return 1 - l.copy;
}

// What PID 1 boots and the state to write (fsync'd) before booting it.
struct BootDecision {
  Slot slot = Slot::kA;
  bool trial = false;  // booting a slot that is not yet good
  BootState next;      // sequence already incremented when it differs
  bool changed = false;
  std::string why;  // one line for the log
};
BootDecision ChooseBootSlot(const BootState& s);

// `initos upgrade` steps on the state (pure; the executor writes the result).
// A new bundle of `version` was written to `slot`: try it next, `tries` times.
Result<BootState> MarkNext(BootState s, Slot slot, uint64_t version, uint32_t tries);
// The booted slot is healthy: good, and the floor rises to its version.
Result<BootState> MarkGood(BootState s, Slot booted);
// The booted slot is bad: not good, no tries; the other slot becomes primary.
Result<BootState> MarkBad(BootState s, Slot slot);
// Go back to the other slot (it must hold a good image).
Result<BootState> Rollback(BootState s, Slot booted);

// One line per slot for `initos upgrade status` / `initos status`.
std::string DescribeBootState(const BootState& s, std::optional<Slot> booted);

}  // namespace format
}  // namespace initos
