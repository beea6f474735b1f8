// Resident memory of the long-running processes (PID 1, the reaper, the
// sidecar supervisor). Most of what they have resident while idle is the
// static binary's own code and read-only data, mapped at start-up: the
// kernel maps up to 16 neighbouring pages of the page cache on every fault
// ("fault-around"), so the few hundred kilobytes of code that run once (libc
// start-up, option and config parsing, the boot stages) leave megabytes of
// the 8 MB binary mapped (docs/performance.md).
#pragma once

#include <cstddef>

namespace initos {
inline namespace base {

// Unmaps (MADV_DONTNEED) the executable's pages that are exactly the file's
// content: every page of its read-only segments (code, rodata) and the clean
// file pages of its RELRO region (read-only by now, so nothing can write them
// meanwhile; pages relocated at start-up are anonymous and kept). The data
// stays in the page cache; what runs again later faults its pages back in.
// Never touches writable data, the heap or stacks. Returns the bytes of
// address range released (0 if nothing could be).
size_t ReleaseStartupPages();

// ReleaseStartupPages once per process: for a loop that is about to sleep.
void ReleaseStartupPagesOnce();
bool StartupPagesReleased();

}  // namespace base
}  // namespace initos
