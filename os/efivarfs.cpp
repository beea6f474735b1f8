#include "os/efivarfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "os/modules.h"

namespace initos {
inline namespace os {
namespace {

constexpr long kEfivarfsMagic = 0xde5e81e4;  // EFIVARFS_MAGIC (linux/magic.h)

// More than any variable PID 1 reads may hold: a longer one is refused by
// the parser (it sees kReadLimit bytes and says "more than ...").
constexpr size_t kReadLimit = 4 + kMaxEfiString + 4;

bool IsEfivarfs(const std::string& dir) {
  struct statfs st {};
  return ::statfs(dir.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kEfivarfsMagic;
}

Result<void> MountReadOnly(const std::string& target) {
  if (::mount("efivarfs", target.c_str(), "efivarfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0)
    return ErrnoError() << "mount efivarfs on " << target;
  return {};
}

EfiVarFile ReadVar(const std::string& path) {
  EfiVarFile f;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno != ENOENT) {
      f.present = true;
      f.error = std::string("open: ") + std::strerror(errno);
    }
    return f;
  }
  unique_fd owned(fd);
  f.present = true;
  char buf[kReadLimit];
  size_t got = 0;
  // efivarfs returns the whole variable in one read; loop for short reads.
  while (got < sizeof(buf)) {
    ssize_t n = ::read(owned.get(), buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      f.error = std::string("read: ") + std::strerror(errno);
      return f;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  f.content.assign(buf, got);
  return f;
}

}  // namespace

bool IsEfiBoot(const std::string& root) {
  struct stat st {};
  return ::stat(PathUnderRoot(root, kEfiDir).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<void> MountEfivarfs(const std::string& root, const std::string& modules_root) {
  std::string target = PathUnderRoot(root, kEfivarsDir);
  if (IsEfivarfs(target)) return {};
  auto first = MountReadOnly(target);
  if (first.ok() || first.error().code != ENODEV) return first;
  // ENODEV: the kernel does not know efivarfs yet; it is a module.
  auto loaded = LoadModules(modules_root, {"efivarfs"});
  if (!loaded.ok())
    return Err() << "the kernel has efivarfs as a module and it did not load ("
                 << loaded.error().str()
                 << "); build the initramfs with `initos image initramfs --module efivarfs`";
  return MountReadOnly(target);
}

// A mounted efivarfs always holds variables (Boot####, the key databases):
// an empty directory is sysfs' bare mount point, where every variable would
// look absent and Secure Boot would read as "off" instead of "unknown".
bool HasEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool any = false;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      any = true;
      break;
    }
  }
  ::closedir(d);
  return any;
}

EfiVarsInput ReadEfiVars(const std::string& root) {
  EfiVarsInput in;
  in.efi_firmware = IsEfiBoot(root);
  if (!in.efi_firmware) return in;
  std::string dir = PathUnderRoot(root, kEfivarsDir);
  if (!HasEntries(dir)) {
    in.efivarfs_problem = dir + " holds no variables (efivarfs not mounted)";
    return in;
  }
  for (const std::string& name : EfiBootVarFileNames()) in.vars[name] = ReadVar(dir + "/" + name);
  return in;
}

}  // namespace os
}  // namespace initos
