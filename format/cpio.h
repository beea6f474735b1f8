// Writer for newc ("070701") cpio archives, the format the kernel unpacks as
// an initramfs. Output is deterministic: entries sorted by path with parents
// first (missing parents are created 0755), inode numbers assigned in that
// order, one fixed mtime, nlink 1 (no hard links), uid/gid 0 unless given.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "format/sink.h"

namespace initos {
inline namespace format {

enum class CpioType { kDirectory, kFile, kSymlink, kCharDevice, kBlockDevice };

struct CpioEntry {
  CpioType type = CpioType::kFile;
  uint32_t mode = 0644;  // permission bits only (07777); the type bits come from `type`
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string data;        // file contents (when source is empty) or symlink target
  std::string source;      // file: host path read while writing (streamed, not kept)
  uint32_t dev_major = 0;  // device nodes
  uint32_t dev_minor = 0;
};

class CpioArchive {
 public:
  // Paths are archive paths like "etc/x" or "/etc/x" (leading '/' dropped);
  // ".." components and empty names are refused. Adding the same directory
  // twice is fine; any other duplicate path is an error.
  Result<void> AddDirectory(std::string_view path, uint32_t mode = 0755);
  Result<void> AddFile(std::string_view path, std::string data, uint32_t mode = 0644);
  // Contents are read from source_path when the archive is written.
  Result<void> AddFileFromPath(std::string_view path, std::string source_path,
                               uint32_t mode = 0644);
  Result<void> AddSymlink(std::string_view path, std::string target);
  Result<void> AddDevice(std::string_view path, CpioType type, uint32_t major, uint32_t minor,
                         uint32_t mode = 0600);
  // Generic form for callers that fill CpioEntry themselves (e.g. uid/gid).
  Result<void> Add(std::string_view path, CpioEntry entry);

  bool Contains(std::string_view path) const;
  size_t size() const { return entries_.size(); }

  // Streams the archive (entries, then TRAILER!!!) into sink; every entry
  // gets `mtime` (0 or SOURCE_DATE_EPOCH for reproducible builds).
  Result<void> Write(const Sink& sink, uint32_t mtime = 0) const;
  Result<std::string> WriteToString(uint32_t mtime = 0) const;

 private:
  // Orders "a" < "a/b" < "a-b": component-wise, so a directory's subtree is
  // contiguous and always follows the directory itself.
  struct PathLess {
    bool operator()(const std::string& a, const std::string& b) const;
  };
  Result<void> AddParents(const std::string& path);

  std::map<std::string, CpioEntry, PathLess> entries_;
};

// Normalizes an archive path: strips leading '/', collapses "//" and "./";
// refuses "..", empty paths and NUL bytes.
Result<std::string> CleanArchivePath(std::string_view path);

}  // namespace format
}  // namespace initos
