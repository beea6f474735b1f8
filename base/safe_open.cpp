#include "base/safe_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/sys/syscalls.h"

namespace initos {
inline namespace base {

Result<unique_fd> OpenBeneath(int dfd, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = sys::Openat2(dfd, rel.c_str(), &how, sizeof(how));
  if (fd >= 0) return unique_fd(fd);
  if (errno != ENOSYS) return ErrnoError() << "open " << rel;
  // Component by component; ".." is refused like RESOLVE_BENEATH would.
  unique_fd cur;
  int at = dfd;
  size_t pos = 0;
  for (;;) {
    size_t slash = rel.find('/', pos);
    std::string part = rel.substr(pos, slash == std::string::npos ? slash : slash - pos);
    if (part == "..") return ErrnoErrorCode(EXDEV) << "open " << rel;
    bool last = slash == std::string::npos;
    int f = last ? flags | O_NOFOLLOW | O_CLOEXEC : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int next = part.empty() || part == "." ? ::dup(at) : ::openat(at, part.c_str(), f);
    if (next < 0) return ErrnoError() << "open " << rel;
    cur = unique_fd(next);
    at = cur.get();
    if (last) return cur;
    pos = slash + 1;
  }
}

Result<unique_fd> MakeDirsBeneath(int dfd, const std::string& rel, mode_t mode) {
  unique_fd cur(::dup(dfd));
  if (!cur.ok()) return ErrnoError() << "dup";
  size_t pos = 0;
  while (pos < rel.size()) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) slash = rel.size();
    std::string part = rel.substr(pos, slash - pos);
    std::string so_far = rel.substr(0, slash);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return ErrnoErrorCode(EXDEV) << so_far << ": \"..\" not allowed";
    if (::mkdirat(cur.get(), part.c_str(), mode) != 0 && errno != EEXIST)
      return ErrnoError() << "create " << so_far;
    int next = ::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      int err = errno;
      struct stat st {};
      if (::fstatat(cur.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return ErrnoErrorCode(err)
               << so_far << " " << FileTypePhrase(st.st_mode) << ", not a directory; not followed";
      return ErrnoErrorCode(err) << "open " << so_far;
    }
    cur = unique_fd(next);
  }
  return cur;
}

std::string FileTypePhrase(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "is a regular file";
    case S_IFDIR:
      return "is a directory";
    case S_IFLNK:
      return "is a symlink";
    case S_IFIFO:
      return "is a FIFO";
    case S_IFSOCK:
      return "is a socket";
    case S_IFCHR:
      return "is a character device";
    case S_IFBLK:
      return "is a block device";
  }
  return "is not a regular file";
}

Result<unique_fd> OpenRegularBeneath(int dfd, const std::string& rel, const std::string& what) {
  auto fd = OpenBeneath(dfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd.ok()) return ErrnoErrorCode(fd.error().code) << what;
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return ErrnoError() << "fstat " << what;
  if (!S_ISREG(st.st_mode)) return Err() << what << " " << FileTypePhrase(st.st_mode);
  return fd;
}

std::string UntrustedOpenProblem(const Error& e, const std::string& what) {
  switch (e.code) {
    case 0:  // OpenRegularBeneath's "WHAT is a FIFO"
      return e.message.starts_with(what + " ") ? e.message.substr(what.size() + 1) : e.message;
    case ELOOP:
      return "is a symlink (or lies under one); not followed";
    case EXDEV:
      return "escapes its filesystem; not followed";
    case ENOENT:
      return "does not exist";
    case ENOTDIR:
      return "lies under something that is not a directory";
  }
  return "cannot be opened (" + std::string(std::strerror(e.code)) + ")";
}

}  // namespace base
}  // namespace initos
