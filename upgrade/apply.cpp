#include "upgrade/apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string_view>

#include "base/file.h"
#include "image/bundle.h"

namespace initos {
inline namespace upgrade {

namespace {

constexpr size_t kChunk = 1 << 20;

Result<uint64_t> SlotSize(const ApplyTarget& t) {
  auto slot = OpenFile(t.slot_path, O_RDONLY);
  if (!slot.ok()) return slot.error();
  return DeviceSize(slot->get());
}

}  // namespace

// What the header says, checked before a byte is written anywhere.
Result<Manifest> CheckBundleHeader(std::string_view area, const ApplyTarget& t) {
  auto slot_size = SlotSize(t);
  if (!slot_size.ok()) return slot_size.error();
  auto h = ParseBundleHeader(area, *slot_size);
  if (!h.ok()) return Wrap(h.error(), "bundle header");
  auto key = VerifyWithTrustedKeys(t.keys, h->manifest, h->signature);
  if (!key.ok()) return Wrap(key.error(), "bundle signature");
  auto m = ParseManifest(h->manifest, {kBundleHeaderAreaSize, UINT64_MAX});
  if (!m.ok()) return Wrap(m.error(), "bundle manifest");
  if (m->name != t.name)
    return Err() << "bundle holds image \"" << m->name << "\", this machine runs \"" << t.name
                 << "\"; build it with --name " << t.name;
  if (m->version < t.floor)
    return Err() << "bundle version " << m->version << " is older than " << t.floor
                 << ", the highest version this machine booted healthy; build a newer one";
  uint64_t size = m->hash_offset + m->hash_size;
  if (size > *slot_size)
    return Err() << "bundle needs " << size << " bytes, slot " << SlotName(t.slot) << " ("
                 << t.slot_path << ") has " << *slot_size << "; grow the slot partition";
  return m;
}

namespace {

// Copies `size` bytes from `in` (a stream) to `out` at `offset` onwards,
// reporting progress from `done`.
Result<void> Stream(int in, int out, uint64_t offset, uint64_t size, uint64_t done, uint64_t total,
                    const ApplyProgressFn& progress) {
  std::string buf(kChunk, '\0');
  while (size > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size, kChunk));
    auto r = ReadFully(in, buf.data(), want);
    if (!r.ok())
      return Err() << "bundle ends after " << done << " of " << total
                   << " bytes (cut short in transit?): " << r.error().str();
    ssize_t n = ::pwrite(out, buf.data(), want, static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(want))
      return n < 0 ? ErrnoError() << "write" : Err() << "short write (disk full?)";
    offset += want;
    size -= want;
    done += want;
    if (progress) progress(done, total);
  }
  return {};
}

// copy_file_range(2) only between regular files: a slot that is a block
// device (a GPT partition) gets EINVAL, so those are copied through a
// buffer from the offset reached.
Result<void> CopyThroughBuffer(int from, int to, uint64_t offset, uint64_t size) {
  std::vector<char> buf(1 << 20);
  while (offset < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - offset));
    ssize_t n = ::pread(from, buf.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "copy into the slot: read the staged bundle";
    if (n == 0) return Err() << "copy into the slot: staged bundle is short";
    ssize_t w = ::pwrite(to, buf.data(), static_cast<size_t>(n), static_cast<off_t>(offset));
    if (w != n)
      return w < 0 ? ErrnoError() << "copy into the slot"
                   : Err() << "copy into the slot: short write (slot too small?)";
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Result<void> CopyAll(int from, int to, uint64_t size) {
  loff_t in_off = 0, out_off = 0;
  while (static_cast<uint64_t>(in_off) < size) {
    ssize_t n = ::copy_file_range(from, &in_off, to, &out_off,
                                  static_cast<size_t>(size - static_cast<uint64_t>(in_off)), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EINVAL || errno == EXDEV || errno == EOPNOTSUPP) && in_off == 0)
      return CopyThroughBuffer(from, to, 0, size);
    if (n < 0) return ErrnoError() << "copy into the slot";
    if (n == 0) return Err() << "copy into the slot: staged bundle is short";
  }
  return {};
}

// The slot read back from the disk, not from the page cache we just wrote.
Result<void> VerifySlot(int fd, const ApplyTarget& t, const Manifest& expected) {
  if (::fdatasync(fd) != 0) return ErrnoError() << "fsync slot " << t.slot_path;
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  auto v = VerifyBundle(fd, t.keys);
  if (!v.ok()) return Wrap(v.error(), "slot " + t.slot_path + " after writing");
  if (v->bundle.manifest != expected)
    return Err() << "slot " << t.slot_path << " holds another manifest after writing";
  return {};
}

}  // namespace

Result<unique_fd> StagingFile(const ApplyTarget& t) {
  unique_fd stage(::open(t.staging_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!stage.ok()) return ErrnoError() << "staging file in " << t.staging_dir;
  return stage;
}

Result<Manifest> InstallStaged(int stage_fd, const Manifest& expected, const ApplyTarget& t,
                               BootStateFile& record) {
  auto staged = VerifyBundle(stage_fd, t.keys);
  if (!staged.ok()) return Wrap(staged.error(), "bundle as received");
  if (staged->bundle.manifest != expected)
    return Err() << "bundle as received: the manifest changed while it was staged";
  auto loaded = record.Load();
  if (!loaded.ok()) return loaded.error();
  auto slot = OpenFile(t.slot_path, O_RDWR);
  if (!slot.ok()) return slot.error();
  // From here the inactive slot changes: first the record forgets it.
  BootState state = loaded->state;
  state.at(t.slot) = SlotState{};
  ++state.sequence;
  INITOS_TRY(record.Store(state));
  INITOS_TRY(CopyAll(stage_fd, slot->get(), expected.hash_offset + expected.hash_size));
  INITOS_TRY(VerifySlot(slot->get(), t, expected));
  auto next = MarkNext(state, t.slot, expected.version, t.tries);
  if (!next.ok()) return next.error();
  INITOS_TRY(record.Store(*next));
  return expected;
}

Result<Manifest> ApplyBundle(int in_fd, const ApplyTarget& t, BootStateFile& record,
                             const ApplyProgressFn& progress) {
  std::string area(kBundleHeaderAreaSize, '\0');
  if (auto r = ReadFully(in_fd, area.data(), area.size()); !r.ok())
    return Err() << "bundle header: " << r.error().str();
  auto m = CheckBundleHeader(area, t);
  if (!m.ok()) return m.error();
  if (auto l = record.Load(); !l.ok()) return l.error();

  // Stage and verify: nothing changes on a bad stream.
  auto stage = StagingFile(t);
  if (!stage.ok()) return stage.error();
  uint64_t total = m->hash_offset + m->hash_size;
  if (::pwrite(stage->get(), area.data(), area.size(), 0) != static_cast<ssize_t>(area.size()))
    return ErrnoError() << "staging file in " << t.staging_dir << " (disk full?)";
  INITOS_TRY(
      Stream(in_fd, stage->get(), area.size(), total - area.size(), area.size(), total, progress));
  char extra = 0;
  if (::read(in_fd, &extra, 1) == 1)
    return Err() << "bundle is longer than its manifest says (" << total
                 << " bytes); refusing trailing data";
  return InstallStaged(stage->get(), *m, t, record);
}

std::string ProgressLine(uint64_t done, uint64_t total, double seconds) {
  constexpr double kMiB = 1024.0 * 1024.0;
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  char line[160];
  if (rate > 0 && done < total) {
    std::snprintf(line, sizeof line, "%.1f MiB of %.1f MiB, %.1f MiB/s, ETA %.0f s",
                  static_cast<double>(done) / kMiB, static_cast<double>(total) / kMiB, rate / kMiB,
                  static_cast<double>(total - done) / rate);
  } else {
    std::snprintf(line, sizeof line, "%.1f MiB of %.1f MiB", static_cast<double>(done) / kMiB,
                  static_cast<double>(total) / kMiB);
  }
  return line;
}

}  // namespace upgrade
}  // namespace initos
