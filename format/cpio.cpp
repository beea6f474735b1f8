#include "format/cpio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "base/file.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kHeaderSize = 110;  // "070701" + 13 fields of 8 hex digits

uint32_t TypeBits(CpioType type) {
  switch (type) {
    case CpioType::kDirectory:
      return S_IFDIR;
    case CpioType::kFile:
      return S_IFREG;
    case CpioType::kSymlink:
      return S_IFLNK;
    case CpioType::kCharDevice:
      return S_IFCHR;
    case CpioType::kBlockDevice:
      return S_IFBLK;
  }
  return 0;
}

struct HeaderFields {
  uint32_t ino, mode, uid, gid, nlink, mtime, filesize, rdev_major, rdev_minor, namesize;
};

std::string Header(const HeaderFields& f) {
  char buf[kHeaderSize + 1];
  // devmajor/devminor (the device holding the file) and the checksum are 0:
  // they would only leak the build host's details into the image.
  std::snprintf(buf, sizeof(buf), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                f.ino, f.mode, f.uid, f.gid, f.nlink, f.mtime, f.filesize, 0u, 0u, f.rdev_major,
                f.rdev_minor, f.namesize, 0u);
  return std::string(buf, kHeaderSize);
}

std::string Padding(size_t len) {
  return std::string((4 - len % 4) % 4, '\0');
}

// Emits header + NUL-terminated name + padding.
Result<void> WriteHeaderAndName(const Sink& sink, const HeaderFields& f, const std::string& name) {
  std::string out = Header(f);
  out += name;
  out.push_back('\0');
  out += Padding(out.size());
  return sink(out);
}

// Streams a host file's contents, checking it still has the size we announced.
Result<void> StreamFile(const Sink& sink, int fd, const std::string& source, uint64_t size) {
  std::vector<char> buf(1 << 16);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read " << source;
    if (n == 0) break;
    if (done + static_cast<uint64_t>(n) > size) break;
    INITOS_TRY(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
    done += static_cast<uint64_t>(n);
  }
  if (done != size) return Err() << source << " changed size while being archived";
  return {};
}

}  // namespace

Result<std::string> CleanArchivePath(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view comp = path.substr(i, slash - i);
    i = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return Err() << "archive path '" << path << "' must not contain '..'";
    if (comp.find('\0') != std::string_view::npos) {
      return Err() << "archive path contains a NUL byte";
    }
    if (!out.empty()) out.push_back('/');
    out.append(comp);
  }
  if (out.empty()) return Err() << "archive path '" << path << "' names no file";
  return out;
}

bool CpioArchive::PathLess::operator()(const std::string& a, const std::string& b) const {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    // '/' sorts before everything so "a/b" comes right after "a", before "a-b".
    if (a[i] == '/') return true;
    if (b[i] == '/') return false;
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

Result<void> CpioArchive::AddParents(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    auto it = entries_.find(parent);
    if (it == entries_.end()) {
      CpioEntry dir;
      dir.type = CpioType::kDirectory;
      dir.mode = 0755;
      entries_.emplace(parent, std::move(dir));
    } else if (it->second.type != CpioType::kDirectory) {
      return Err() << "cannot add '" << path << "': '" << parent
                   << "' is already in the archive and is not a directory";
    }
  }
  return {};
}

Result<void> CpioArchive::Add(std::string_view raw_path, CpioEntry entry) {
  auto path = CleanArchivePath(raw_path);
  if (!path.ok()) return path.error();
  if (entry.mode & ~07777u) return Err() << "mode of '" << *path << "' has non-permission bits";
  auto it = entries_.find(*path);
  if (it != entries_.end()) {
    // Explicit directory attributes win over an implied parent's defaults.
    if (it->second.type == CpioType::kDirectory && entry.type == CpioType::kDirectory) {
      it->second = std::move(entry);
      return {};
    }
    return Err() << "'" << *path << "' is added to the archive twice";
  }
  INITOS_TRY(AddParents(*path));
  entries_.emplace(std::move(*path), std::move(entry));
  return {};
}

Result<void> CpioArchive::AddDirectory(std::string_view path, uint32_t mode) {
  CpioEntry e;
  e.type = CpioType::kDirectory;
  e.mode = mode;
  return Add(path, std::move(e));
}

Result<void> CpioArchive::AddFile(std::string_view path, std::string data, uint32_t mode) {
  CpioEntry e;
  e.type = CpioType::kFile;
  e.mode = mode;
  e.data = std::move(data);
  return Add(path, std::move(e));
}

Result<void> CpioArchive::AddFileFromPath(std::string_view path, std::string source_path,
                                          uint32_t mode) {
  CpioEntry e;
  e.type = CpioType::kFile;
  e.mode = mode;
  e.source = std::move(source_path);
  return Add(path, std::move(e));
}

Result<void> CpioArchive::AddSymlink(std::string_view path, std::string target) {
  if (target.empty()) return Err() << "symlink '" << path << "' has an empty target";
  CpioEntry e;
  e.type = CpioType::kSymlink;
  e.mode = 0777;
  e.data = std::move(target);
  return Add(path, std::move(e));
}

Result<void> CpioArchive::AddDevice(std::string_view path, CpioType type, uint32_t major,
                                    uint32_t minor, uint32_t mode) {
  if (type != CpioType::kCharDevice && type != CpioType::kBlockDevice) {
    return Err() << "'" << path << "': a device node must be a char or block device";
  }
  CpioEntry e;
  e.type = type;
  e.mode = mode;
  e.dev_major = major;
  e.dev_minor = minor;
  return Add(path, std::move(e));
}

bool CpioArchive::Contains(std::string_view path) const {
  auto clean = CleanArchivePath(path);
  return clean.ok() && entries_.count(*clean) > 0;
}

Result<void> CpioArchive::Write(const Sink& sink, uint32_t mtime) const {
  uint32_t ino = 0;
  for (const auto& [path, e] : entries_) {
    HeaderFields f{};
    f.ino = ++ino;
    f.mode = TypeBits(e.type) | e.mode;
    f.uid = e.uid;
    f.gid = e.gid;
    f.nlink = e.type == CpioType::kDirectory ? 2 : 1;
    f.mtime = mtime;
    f.rdev_major = e.dev_major;
    f.rdev_minor = e.dev_minor;
    f.namesize = static_cast<uint32_t>(path.size() + 1);

    unique_fd source_fd;
    uint64_t size = e.data.size();
    if (e.type == CpioType::kFile && !e.source.empty()) {
      auto fd = OpenFile(e.source, O_RDONLY);
      if (!fd.ok()) return fd.error();
      struct stat st;
      if (::fstat(fd->get(), &st) != 0) return ErrnoError() << "stat " << e.source;
      if (!S_ISREG(st.st_mode)) return Err() << e.source << " is not a regular file";
      size = static_cast<uint64_t>(st.st_size);
      source_fd = std::move(*fd);
    } else if (e.type != CpioType::kFile && e.type != CpioType::kSymlink) {
      size = 0;
    }
    if (size > 0xFFFFFFFFull) return Err() << path << " is too large for a newc cpio (4 GiB)";
    f.filesize = static_cast<uint32_t>(size);

    INITOS_TRY(WriteHeaderAndName(sink, f, path));
    if (source_fd.ok()) {
      INITOS_TRY(StreamFile(sink, source_fd.get(), e.source, size));
    } else if (size > 0) {
      INITOS_TRY(sink(std::string_view(e.data.data(), size)));
    }
    INITOS_TRY(sink(Padding(size)));
  }
  HeaderFields trailer{};
  trailer.nlink = 1;
  const std::string name = "TRAILER!!!";
  trailer.namesize = static_cast<uint32_t>(name.size() + 1);
  return WriteHeaderAndName(sink, trailer, name);
}

Result<std::string> CpioArchive::WriteToString(uint32_t mtime) const {
  std::string out;
  INITOS_TRY(Write(StringSink(&out), mtime));
  return out;
}

}  // namespace format
}  // namespace initos
