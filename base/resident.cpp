#include "base/resident.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace base {
namespace {

using Range = PageRange;

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

// The pagemap entries of the pages in r (empty when unreadable).
std::vector<uint64_t> ReadPagemap(int pagemap, Range r, uintptr_t page) {
  if (pagemap < 0 || r.end <= r.start) return {};
  const size_t pages = (r.end - r.start) / page;
  std::vector<uint64_t> entries(pages);
  const off_t at = static_cast<off_t>(r.start / page * sizeof(uint64_t));
  const ssize_t want = static_cast<ssize_t>(pages * sizeof(uint64_t));
  if (::pread(pagemap, entries.data(), static_cast<size_t>(want), at) != want) return {};
  return entries;
}

size_t ReleaseCleanFilePages(Range r, uintptr_t page) {
  unique_fd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  size_t released = 0;
  for (PageRange run : FilePageRuns(r.start, page, ReadPagemap(pagemap.get(), r, page))) {
    if (::madvise(reinterpret_cast<void*>(run.start), run.end - run.start, MADV_DONTNEED) == 0)
      released += run.end - run.start;
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

std::vector<PageRange> FilePageRuns(uintptr_t start, uintptr_t page,
                                    const std::vector<uint64_t>& entries) {
  std::vector<PageRange> runs;
  for (size_t i = 0; i < entries.size();) {
    size_t j = i;
    while (j < entries.size() && (entries[j] & (kPresent | kFilePage)) == (kPresent | kFilePage))
      j++;
    if (j > i) runs.push_back({start + i * page, start + j * page});
    i = j > i ? j : i + 1;
  }
  return runs;
}

std::vector<PageRange> ReadOnlyFileMappings(std::string_view maps) {
  // "start-end perms offset dev inode   path", one mapping a line.
  std::vector<PageRange> out;
  while (!maps.empty()) {
    const size_t nl = maps.find('\n');
    std::string line(maps.substr(0, nl));
    maps.remove_prefix(nl == std::string_view::npos ? maps.size() : nl + 1);
    unsigned long start = 0, stop = 0;
    unsigned long long inode = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %*s %*s %llu", &start, &stop, perms, &inode) != 4)
      continue;
    // Writable, or shared: another process may write (dirty) a shared
    // mapping's pages, and paging them out would write them back.
    if (stop <= start || perms[1] != '-' || perms[3] != 'p') continue;
    if (inode == 0) continue;  // anonymous, [heap], [stack], [vdso], [vvar]
    out.push_back({start, stop});
  }
  return out;
}

Result<PageOutResult> PageOutFilePages(int pidfd, pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  auto maps = ReadFileToString(proc + "/maps");
  if (!maps.ok()) return maps.error();
  unique_fd pagemap(::open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap.ok()) return ErrnoError() << "open " << proc << "/pagemap";
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::vector<iovec> iov;
  for (Range m : ReadOnlyFileMappings(*maps)) {
    for (PageRange run : FilePageRuns(m.start, page, ReadPagemap(pagemap.get(), m, page)))
      iov.push_back({reinterpret_cast<void*>(run.start), run.end - run.start});
  }
  PageOutResult result;
  result.ranges = iov.size();
  // At most IOV_MAX (1024) ranges a call.
  for (size_t at = 0; at < iov.size(); at += 1024) {
    const size_t n = std::min<size_t>(1024, iov.size() - at);
    const ssize_t r = ::process_madvise(pidfd, iov.data() + at, n, MADV_PAGEOUT, 0);
    if (r < 0) return ErrnoError() << "process_madvise(MADV_PAGEOUT) on pid " << pid;
    result.bytes_advised += static_cast<size_t>(r);
  }
  return result;
}

}  // namespace base
}  // namespace initos
