#include "os/boot_state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/safe_open.h"

namespace initos {
inline namespace os {

std::string JailBootStatePath(const std::string& jail_name) {
  return "initos/jails/" + jail_name + "/boot-state";
}

Result<BootStateFile> BootStateFile::Open(const std::string& state_dir, bool create) {
  return Open(state_dir, create, kBootStatePath);
}

Result<BootStateFile> BootStateFile::Open(const std::string& state_dir, bool create,
                                          const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0 || path.starts_with("/"))
    return Err() << "boot-state record path \"" << path << "\" must be dir/file, relative";
  auto root = OpenFile(state_dir, O_RDONLY | O_DIRECTORY);
  if (!root.ok()) return root.error();
  std::string dir = path.substr(0, slash);
  auto d = create ? MakeDirsBeneath(root->get(), dir, 0700)
                  : OpenBeneath(root->get(), dir, O_RDONLY | O_DIRECTORY);
  if (!d.ok()) return d.error();
  std::string file = path.substr(slash + 1);
  unique_fd fd(::openat(d->get(), file.c_str(),
                        O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT : 0),
                        0600));
  if (!fd.ok()) return ErrnoError() << state_dir << "/" << path;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError() << "stat " << state_dir << "/" << path;
  if (!S_ISREG(st.st_mode))
    return Err() << state_dir << "/" << path << " " << FileTypePhrase(st.st_mode)
                 << ", not a regular file; remove it";
  return BootStateFile(std::move(fd));
}

Result<LoadedBootState> BootStateFile::Load() {
  std::string copies[2];
  for (int i = 0; i < 2; ++i) {
    copies[i].resize(kBootStateCopySize);
    ssize_t n = ::pread(fd_.get(), copies[i].data(), kBootStateCopySize,
                        static_cast<off_t>(i * kBootStateCopySize));
    if (n < 0) return ErrnoError() << "read boot state copy " << i + 1;
    copies[i].resize(static_cast<size_t>(n));
  }
  auto l = PickBootState(copies[0], copies[1]);
  if (l.ok()) last_copy_ = l->copy;
  return l;
}

Result<void> BootStateFile::Store(const BootState& next) {
  int copy = 1 - last_copy_;
  std::string bytes = EncodeBootState(next);
  ssize_t n = ::pwrite(fd_.get(), bytes.data(), bytes.size(),
                       static_cast<off_t>(copy * kBootStateCopySize));
  if (n < 0) return ErrnoError() << "write boot state copy " << copy + 1;
  if (static_cast<size_t>(n) != bytes.size())
    return Err() << "write boot state copy " << copy + 1 << ": short write (disk full?)";
  if (::fsync(fd_.get()) != 0) return ErrnoError() << "fsync boot state";
  last_copy_ = copy;
  return {};
}

}  // namespace os
}  // namespace initos
