// The A/B boot-state record on the state partition (format/boot_slots.h):
// one file of two kBootStateCopySize copies, STATE/initos/boot-state. The
// disk's writer chose every name there, so the file is opened beneath the
// mount point without following symlinks and only a regular file is used.
// A write replaces the copy that does not hold the loaded state with one
// pwrite and an fsync, so a power cut at any instant leaves one valid copy.
#pragma once

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/boot_slots.h"

namespace initos {
inline namespace os {

inline constexpr const char kBootStatePath[] = "initos/boot-state";

// A jail's record (rootfs-slots, docs/upgrades.md "Jail slots"), relative to
// the state partition: initos/jails/NAME/boot-state.
std::string JailBootStatePath(const std::string& jail_name);

class BootStateFile {
 public:
  // Opens (creating initos/ and the file when `create`) beneath state_dir.
  static Result<BootStateFile> Open(const std::string& state_dir, bool create);
  // The same for another record (JailBootStatePath): `relative_path` is
  // resolved beneath state_dir, never through a symlink or "..".
  static Result<BootStateFile> Open(const std::string& state_dir, bool create,
                                    const std::string& relative_path);
  // Both copies decoded; the newer valid one wins (LoadedBootState::note says
  // why the other was not used). A file with no valid copy is an error.
  Result<LoadedBootState> Load();
  // Writes `next` into the copy the last Load (or Store) did not use, then
  // fsyncs the file; a file without a valid copy gets copy 1 first.
  Result<void> Store(const BootState& next);

 private:
  explicit BootStateFile(unique_fd fd) : fd_(std::move(fd)) {}
  unique_fd fd_;
  int last_copy_ = 1;  // Store's first write goes to copy 0 of a new file
};

}  // namespace os
}  // namespace initos
