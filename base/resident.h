// Resident memory of the long-running processes (PID 1, the reaper, the
// sidecar supervisor). Most of what they have resident while idle is the
// static binary's own code and read-only data, mapped at start-up: the
// kernel maps up to 16 neighbouring pages of the page cache on every fault
// ("fault-around"), so the few hundred kilobytes of code that run once (libc
// start-up, option and config parsing, the boot stages) leave megabytes of
// the 8 MB binary mapped (docs/performance.md).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/result.h"

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

// ---- another process's pages (the sidecar's sshd) ------------------------
// A dynamically linked program (Debian's sshd and its 27 libraries) has the
// same kind of Rss: clean pages of its files, mapped by fault-around at
// start-up. Only the process itself can MADV_DONTNEED them; a supervisor can
// ask the kernel to reclaim them (process_madvise MADV_PAGEOUT), which
// unmaps them from the target and, for a page nobody else maps, drops it
// from the page cache (a tmpfs page stays in its tmpfs: no swap).

struct PageRange {
  uintptr_t start = 0, end = 0;
  bool operator==(const PageRange&) const = default;
};

// /proc/PID/maps text -> the mappings whose pages can only be file pages
// nobody writes: private, not writable and backed by a file (inode != 0;
// not [vdso], [vvar], anonymous or the heap). RELRO and text patched by a debugger may
// still hold anonymous copies: FilePageRuns sorts those out. Pure.
std::vector<PageRange> ReadOnlyFileMappings(std::string_view maps);

// /proc/PID/pagemap entries of consecutive pages from `start` -> the runs of
// present file pages (bits 63 and 61): anonymous pages (relocated RELRO,
// copy-on-write) and absent pages are left out. Pure.
std::vector<PageRange> FilePageRuns(uintptr_t start, uintptr_t page,
                                    const std::vector<uint64_t>& entries);

// What PageOutFilePages did.
struct PageOutResult {
  size_t ranges = 0;         // runs of present file pages advised
  size_t bytes_advised = 0;  // their size, as process_madvise reports it
};

// Asks the kernel to reclaim pid's present, clean file pages of its
// read-only file mappings (MADV_PAGEOUT through process_madvise on pidfd,
// which must name pid). Anonymous pages are never advised (there is no swap
// to put them in, and where there is, they are not ours to push out).
// Needs CAP_SYS_NICE and ptrace-read access to pid, Linux 5.10+: the errors
// (EPERM, ENOSYS) come back as the Error, nothing else happens then.
Result<PageOutResult> PageOutFilePages(int pidfd, pid_t pid);

}  // namespace base
}  // namespace initos
