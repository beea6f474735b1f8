#include "base/resident.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/unique_fd.h"

namespace initos {
inline namespace base {
namespace {

struct Range {
  uintptr_t start, end;
};

struct Segments {
  std::vector<Range> read_only;  // PT_LOAD without PF_W
  std::vector<Range> relro;      // PT_GNU_RELRO
};

// The main executable is the first object dl_iterate_phdr reports, also in
// a static binary.
int CollectMain(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<Segments*>(data);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    const Range r{start, start + ph.p_memsz};
    if (ph.p_type == PT_LOAD && !(ph.p_flags & PF_W)) s->read_only.push_back(r);
    if (ph.p_type == PT_GNU_RELRO) s->relro.push_back(r);
  }
  return 1;  // stop after the main executable
}

// Whole pages inside r: a page shared with a writable neighbour stays.
Range Inner(Range r, uintptr_t page) {
  return {(r.start + page - 1) / page * page, r.end / page * page};
}

// pagemap bit 61: "page is a file page or shared anon"; bit 63: present.
// Readable without privileges (only the frame number is hidden).
constexpr uint64_t kPresent = uint64_t{1} << 63;
constexpr uint64_t kFilePage = uint64_t{1} << 61;

size_t ReleaseCleanFilePages(Range r, uintptr_t page) {
  unique_fd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!pagemap.ok() || r.end <= r.start) return 0;
  const size_t pages = (r.end - r.start) / page;
  std::vector<uint64_t> entries(pages);
  const off_t at = static_cast<off_t>(r.start / page * sizeof(uint64_t));
  const ssize_t want = static_cast<ssize_t>(pages * sizeof(uint64_t));
  if (::pread(pagemap.get(), entries.data(), static_cast<size_t>(want), at) != want) return 0;
  size_t released = 0;
  for (size_t i = 0; i < pages;) {
    // Runs of present file pages, one madvise each.
    size_t j = i;
    while (j < pages && (entries[j] & (kPresent | kFilePage)) == (kPresent | kFilePage)) j++;
    if (j > i) {
      void* p = reinterpret_cast<void*>(r.start + i * page);
      if (::madvise(p, (j - i) * page, MADV_DONTNEED) == 0) released += (j - i) * page;
      i = j;
    } else {
      i++;
    }
  }
  return released;
}

}  // namespace

size_t ReleaseStartupPages() {
  Segments s;
  dl_iterate_phdr(CollectMain, &s);
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  size_t released = 0;
  for (Range r : s.read_only) {
    r = Inner(r, page);
    if (r.end > r.start &&
        ::madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED) == 0)
      released += r.end - r.start;
  }
  for (Range r : s.relro) released += ReleaseCleanFilePages(Inner(r, page), page);
  return released;
}

namespace {
std::atomic<bool> g_released{false};
}  // namespace

void ReleaseStartupPagesOnce() {
  if (!g_released.exchange(true)) ReleaseStartupPages();
}

bool StartupPagesReleased() {
  return g_released.load();
}

}  // namespace base
}  // namespace initos
