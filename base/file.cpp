#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace initos {
inline namespace base {

Result<unique_fd> OpenFile(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError() << "open " << path;
  return unique_fd(fd);
}

Result<std::string> ReadFdToString(int fd) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read";
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> ReadFileToString(const std::string& path) {
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.error();
  auto s = ReadFdToString(fd->get());
  if (!s.ok()) return ErrnoErrorCode(s.error().code) << "read " << path;
  return s;
}

Result<void> WriteFully(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "write";
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> ReadFully(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read";
    if (n == 0) return Err() << "unexpected end of file";
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> WriteStringToFile(const std::string& path, std::string_view data, mode_t mode) {
  auto fd = OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (!fd.ok()) return fd.error();
  auto r = WriteFully(fd->get(), data.data(), data.size());
  if (!r.ok()) return ErrnoErrorCode(r.error().code) << "write " << path;
  return {};
}

Result<void> MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError() << "mkdir " << prefix;
    }
  }
  return {};
}

std::string PathUnderRoot(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return path == "/" ? r : r + path;
}

namespace {

Result<void> CopyEntry(const std::string& src, const std::string& dst, bool follow, dev_t fs) {
  struct stat st {};
  int r = follow ? ::stat(src.c_str(), &st) : ::lstat(src.c_str(), &st);
  if (r != 0) return ErrnoError() << "copy " << src;
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(dst.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST)
      return ErrnoError() << "mkdir " << dst;
    if (fs != 0 && st.st_dev != fs) return {};  // a mount point: its directory only
    DIR* d = ::opendir(src.c_str());
    if (!d) return ErrnoError() << "opendir " << src;
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        names.push_back(e->d_name);
    ::closedir(d);
    for (const auto& n : names) INITOS_TRY(CopyEntry(src + "/" + n, dst + "/" + n, false, fs));
    return {};
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(src.c_str(), target, sizeof(target) - 1);
    if (n < 0) return ErrnoError() << "readlink " << src;
    if (::symlink(std::string(target, n).c_str(), dst.c_str()) != 0 && errno != EEXIST)
      return ErrnoError() << "symlink " << dst;
    return {};
  }
  if (!S_ISREG(st.st_mode)) return {};
  auto data = ReadFileToString(src);
  if (!data.ok()) return data.error();
  return WriteStringToFile(dst, *data, st.st_mode & 07777);
}

}  // namespace

Result<void> CopyTree(const std::string& src, const std::string& dst, CopyOptions options) {
  size_t slash = dst.rfind('/');
  if (slash != std::string::npos && slash > 0) INITOS_TRY(MakeDirs(dst.substr(0, slash)));
  dev_t fs = 0;
  if (options.one_file_system) {
    struct stat st {};
    if (::stat(src.c_str(), &st) != 0) return ErrnoError() << "copy " << src;
    fs = st.st_dev;
  }
  return CopyEntry(src, dst, options.follow, fs);
}

}  // namespace base
}  // namespace initos
