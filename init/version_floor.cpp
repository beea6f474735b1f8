#include "init/version_floor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"
#include "base/unique_fd.h"

namespace initos {
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

std::string RecordFile(const std::string& state_root) {
  return state_root + "/" + std::string(kBootedRecordPath);
}

// nullopt when the file does not exist; an error for anything else.
Result<std::optional<std::string>> ReadOptional(const std::string& path) {
  auto fd = OpenFile(path, O_RDONLY | O_NOFOLLOW);
  if (!fd.ok()) {
    if (fd.error().code == ENOENT) return std::optional<std::string>();
    return fd.error();
  }
  // Bounded: a huge file is garbage anyway, no need to read all of it.
  std::string buf(kMaxRecord + 1, '\0');
  ssize_t n = ::read(fd->get(), buf.data(), buf.size());
  if (n < 0) return ErrnoError() << "read " << path;
  buf.resize(static_cast<size_t>(n));
  return std::optional<std::string>(std::move(buf));
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

Result<VersionFloor> ComputeVersionFloor(uint64_t baked_min,
                                         const std::optional<std::string>& record_text) {
  VersionFloor floor{baked_min, "rootfs.min-version"};
  if (!record_text) return floor;
  auto rec = ParseBootedRecord(*record_text);
  if (!rec.ok()) return rec.error();
  if (rec->version > baked_min) floor = {rec->version, "highest booted"};
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
    if (old.ok() && old->version >= booted.version) return std::nullopt;
  }
  return booted;
}

Result<VersionFloor> ReadVersionFloor(const std::string& state_root, uint64_t baked_min) {
  if (state_root.empty()) return VersionFloor{baked_min, "rootfs.min-version"};
  std::string path = RecordFile(state_root);
  auto text = ReadOptional(path);
  if (!text.ok())
    return Wrap(text.error(), "booted-version record " + path + " unreadable (fail closed)");
  auto floor = ComputeVersionFloor(baked_min, *text);
  if (!floor.ok())
    return Err() << "booted-version record " << path << " is malformed (" << floor.error().str()
                 << "); refusing to guess the rollback floor. Delete it to fall back to "
                    "rootfs.min-version "
                 << baked_min;
  return floor;
}

Result<bool> RaiseBootedRecord(const std::string& state_root, const BootedRecord& booted) {
  std::string path = RecordFile(state_root);
  auto existing = ReadOptional(path);
  if (!existing.ok()) return existing.error();
  auto next = NextBootedRecord(*existing, booted);
  if (!next) return false;
  std::string dir = path.substr(0, path.rfind('/'));
  INITOS_TRY(MakeDirs(dir, 0700));
  std::string tmp = path + ".new";
  {
    auto fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (!fd.ok()) return fd.error();
    std::string text = SerializeBootedRecord(*next);
    auto w = WriteFully(fd->get(), text.data(), text.size());
    if (!w.ok()) return Wrap(w.error(), "write " + tmp);
    if (::fsync(fd->get()) != 0) return ErrnoError() << "fsync " << tmp;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError() << "rename " << tmp;
  auto d = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (d.ok()) ::fsync(d->get());  // best effort: the rename is already atomic
  return true;
}

}  // namespace initos
