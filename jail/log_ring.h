// A jail's log: the last N bytes of its console in memory (what `initos
// jail logs NAME` prints) and, when a directory is given (the state
// partition), size-capped rotated files NAME.log, NAME.log.1, ... so a
// chatty jail can neither fill the disk nor PID 1's memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace initos {
inline namespace jail {

// Bounded byte ring: appends past capacity drop the oldest bytes.
class LogRing {
 public:
  explicit LogRing(size_t capacity) : capacity_(capacity) {}
  void Append(std::string_view data);
  std::string Contents() const;              // oldest first
  uint64_t total() const { return total_; }  // bytes ever appended
  // Bytes appended after `offset` (a total() seen earlier) still held.
  std::string Since(uint64_t offset) const;

 private:
  size_t capacity_;
  std::string buf_;  // the newest min(total, capacity) bytes, oldest first
  uint64_t total_ = 0;
};

// Appends to BASE/REL/NAME.log; past max_bytes it is renamed NAME.log.1
// (older ones shifted, at most `files` kept) and a new one begun. Write
// errors (full disk) drop the data and are reported once, never retried in a
// loop. BASE is trusted (the state partition's mount point); REL and the
// files below it were written by whoever wrote the disk, so no symlink there
// is followed: the directories are opened one component at a time and every
// open, rename and unlink is relative to REL's fd.
class LogFiles {
 public:
  LogFiles(std::string base, std::string rel, std::string name, uint64_t max_bytes, int files);
  void Append(std::string_view data);
  std::string path() const { return base_ + "/" + rel_ + "/" + name_ + ".log"; }

 private:
  bool Open();
  void Rotate();
  std::string base_, rel_, name_;
  unique_fd dir_fd_;
  uint64_t max_bytes_;
  int files_;
  unique_fd fd_;
  uint64_t size_ = 0;
  bool failed_ = false;
};

}  // namespace jail
}  // namespace initos
