#include "format/version_floor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/safe_open.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kMaxName = 64;
constexpr size_t kMaxRecord = 512;

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '+' || c == '-';
}

bool LowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<uint64_t> ParseVersion(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0'))
    return Err() << "version '" << s << "' is not a plain decimal number";
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Err() << "version '" << s << "' is not a plain decimal number";
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return Err() << "version '" << s << "' overflows 64 bits";
    v = v * 10 + d;
  }
  return v;
}

constexpr char kRecordDir[] = "initos";
constexpr char kRecordName[] = "booted-version";
constexpr char kRecordTemp[] = "booted-version.new";

std::string RecordPath(const std::string& state_root) {
  return state_root + "/" + std::string(kBootedRecordPath);
}

// The state mount itself is PID 1's own directory: only what lies below it
// is untrusted.
Result<unique_fd> OpenStateRoot(const std::string& state_root) {
  return OpenFile(state_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

RecordFile ReadRecordAt(int state_fd) {
  RecordFile out;
  const std::string what = "record";
  auto fd = OpenRegularBeneath(state_fd, std::string(kBootedRecordPath), what);
  if (!fd.ok()) {
    if (fd.error().code == ENOENT) return out;
    out.kind = RecordFile::Kind::kUnusable;
    out.why = UntrustedOpenProblem(fd.error(), what);
    return out;
  }
  // Bounded: one byte over the limit is enough to know it is too long.
  std::string buf(kMaxRecordFileRead + 1, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd->get(), buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.kind = RecordFile::Kind::kUnusable;
      out.why = std::string("cannot be read: ") + std::strerror(errno);
      return out;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  out.kind = RecordFile::Kind::kRegular;
  out.text = std::move(buf);
  return out;
}

}  // namespace

Result<BootedRecord> ParseBootedRecord(std::string_view text) {
  if (text.size() > kMaxRecord) return Err() << "longer than " << kMaxRecord << " bytes";
  if (text.empty() || text.back() != '\n') return Err() << "not one line ending in a newline";
  text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) return Err() << "more than one line";
  size_t a = text.find(' ');
  size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
  if (b == std::string_view::npos || text.find(' ', b + 1) != std::string_view::npos)
    return Err() << "not exactly three fields 'NAME VERSION ROOTHASH'";
  std::string_view name = text.substr(0, a), version = text.substr(a + 1, b - a - 1),
                   hash = text.substr(b + 1);
  if (name.empty() || name.size() > kMaxName) return Err() << "bad image name length";
  for (char c : name)
    if (!NameChar(c)) return Err() << "image name has a character outside [A-Za-z0-9._+-]";
  auto v = ParseVersion(version);
  if (!v.ok()) return v.error();
  if (hash.size() < 16 || hash.size() > 128 || hash.size() % 2 != 0 || !LowerHex(hash))
    return Err() << "root hash is not 16..128 lowercase hex digits";
  return BootedRecord{std::string(name), *v, std::string(hash)};
}

std::string SerializeBootedRecord(const BootedRecord& r) {
  return r.name + " " + std::to_string(r.version) + " " + r.root_hash + "\n";
}

VersionFloor ComputeVersionFloor(uint64_t baked_min, const std::optional<std::string>& record_text,
                                 std::string_view name) {
  VersionFloor floor{baked_min, "rootfs.min-version", ""};
  if (!record_text) return floor;
  auto rec = ParseBootedRecord(*record_text);
  if (!rec.ok()) {
    floor.ignored = "is malformed (" + rec.error().str() + ")";
    return floor;
  }
  if (rec->name != name) {
    floor.ignored = "is for image \"" + rec->name + "\", not \"" + std::string(name) + "\"";
    return floor;
  }
  if (rec->version > baked_min) floor = {rec->version, "highest booted", ""};
  return floor;
}

Result<void> CheckVersionFloor(uint64_t version, const VersionFloor& floor) {
  if (version >= floor.minimum) return {};
  return Err() << "image version " << version << " is below the minimum " << floor.minimum << " ("
               << floor.source << "); refusing rollback";
}

std::optional<BootedRecord> NextBootedRecord(const std::optional<std::string>& existing_text,
                                             const BootedRecord& booted) {
  if (existing_text) {
    auto old = ParseBootedRecord(*existing_text);
    if (old.ok() && old->name == booted.name && old->version >= booted.version) return std::nullopt;
  }
  return booted;
}

RecordFile ReadBootedRecordFile(const std::string& state_root) {
  auto root = OpenStateRoot(state_root);
  if (!root.ok())
    return {RecordFile::Kind::kUnusable, "", "cannot be reached: " + root.error().str()};
  return ReadRecordAt(root->get());
}

VersionFloor ReadVersionFloor(const std::string& state_root, uint64_t baked_min,
                              std::string_view name) {
  if (state_root.empty()) return VersionFloor{baked_min, "rootfs.min-version", ""};
  RecordFile file = ReadBootedRecordFile(state_root);
  VersionFloor floor;
  if (file.kind == RecordFile::Kind::kUnusable)
    floor = VersionFloor{baked_min, "rootfs.min-version", file.why};
  else
    floor = ComputeVersionFloor(baked_min,
                                file.kind == RecordFile::Kind::kRegular
                                    ? std::optional<std::string>(file.text)
                                    : std::nullopt,
                                name);
  if (!floor.ignored.empty())
    floor.ignored = "booted-version record " + RecordPath(state_root) + " " + floor.ignored +
                    "; ignoring it, the floor is rootfs.min-version " + std::to_string(baked_min);
  return floor;
}

Result<bool> RaiseBootedRecord(const std::string& state_root, const BootedRecord& booted) {
  std::string path = RecordPath(state_root);
  auto root = OpenStateRoot(state_root);
  if (!root.ok()) return root.error();
  if (::mkdirat(root->get(), kRecordDir, 0700) != 0 && errno != EEXIST)
    return ErrnoError() << "create " << state_root << "/" << kRecordDir;
  int d = ::openat(root->get(), kRecordDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    return ErrnoError() << state_root << "/" << kRecordDir
                        << " is not a plain directory (a symlink?); not writing the record: "
                           "remove it";
  unique_fd dir(d);
  RecordFile existing = ReadRecordAt(root->get());
  struct stat st {};
  if (::fstatat(dir.get(), kRecordName, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
    return Err() << path << " is a directory; not writing the record there: remove it";
  auto next = NextBootedRecord(existing.kind == RecordFile::Kind::kRegular
                                   ? std::optional<std::string>(existing.text)
                                   : std::nullopt,
                               booted);
  if (!next) return false;
  // O_EXCL | O_NOFOLLOW: a planted booted-version.new (symlink or not) is
  // never written through; it is unlinked (the link itself) and made anew.
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int f = ::openat(dir.get(), kRecordTemp, flags, 0600);
  if (f < 0 && errno == EEXIST) {
    if (::unlinkat(dir.get(), kRecordTemp, 0) != 0)
      return ErrnoError() << "remove the stale " << path << ".new";
    f = ::openat(dir.get(), kRecordTemp, flags, 0600);
  }
  if (f < 0) return ErrnoError() << "create " << path << ".new";
  {
    unique_fd fd(f);
    std::string text = SerializeBootedRecord(*next);
    auto w = WriteFully(fd.get(), text.data(), text.size());
    if (!w.ok()) return Wrap(w.error(), "write " + path + ".new");
    if (::fsync(fd.get()) != 0) return ErrnoError() << "fsync " << path << ".new";
  }
  // rename replaces a symlink or FIFO at the record path itself.
  if (::renameat(dir.get(), kRecordTemp, dir.get(), kRecordName) != 0)
    return ErrnoError() << "rename " << path << ".new over " << path;
  ::fsync(dir.get());  // best effort: the rename is already atomic
  return true;
}

}  // namespace format
}  // namespace initos
