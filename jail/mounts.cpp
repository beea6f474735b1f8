#include "jail/mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/file.h"
#include "base/sys/syscalls.h"

namespace initos {
inline namespace jail {
namespace {

std::string FdPath(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

Result<unique_fd> OpenInRoot(int root_fd, const std::string& rel, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* p = rel.empty() ? "." : rel.c_str();
  int fd;
  do {
    fd = sys::Openat2(root_fd, p, &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return ErrnoError() << "open /" << rel << " inside the jail root";
  return unique_fd(fd);
}

std::string StripSlashes(const std::string& path) {
  size_t i = 0;
  while (i < path.size() && path[i] == '/') ++i;
  std::string rel = path.substr(i);
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  return rel;
}

// Directory `rel` inside the root, made component by component: mkdirat
// on a real directory fd creates, never follows; the next open resolves in root.
Result<unique_fd> MakeDirsInRoot(int root_fd, const std::string& rel) {
  std::string prefix;
  auto dir = OpenInRoot(root_fd, "", O_PATH | O_DIRECTORY);
  if (!dir.ok()) return dir.error();
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    std::string comp = rel.substr(start, slash == std::string::npos ? slash : slash - start);
    start = slash == std::string::npos ? rel.size() : slash + 1;
    if (comp.empty()) continue;
    prefix += (prefix.empty() ? "" : "/") + comp;
    auto next = OpenInRoot(root_fd, prefix, O_PATH | O_DIRECTORY);
    if (!next.ok() && next.error().code == ENOENT) {
      if (::mkdirat(dir->get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
        return ErrnoError() << "mkdir /" << prefix << " inside the jail root";
      next = OpenInRoot(root_fd, prefix, O_PATH | O_DIRECTORY);
    }
    if (!next.ok()) return next.error();
    dir = std::move(next);
  }
  return dir;
}

// The flags a read-only bind remount must keep (locked in a user namespace).
unsigned long LockedFlags(int fd) {
  struct statvfs sv {};
  if (::fstatvfs(fd, &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// An fd opened before the clone (the console pty slave) lies on a mount of
// the parent's namespace, which mount(2) refuses as a bind source (EINVAL):
// open the same path in this namespace's copy, checked to be the same file.
Result<unique_fd> OpenFdPathInThisNamespace(int fd) {
  struct stat want {
  }, got{};
  if (::fstat(fd, &want) != 0) return ErrnoError() << "stat fd " << fd;
  char path[4096];
  ssize_t n = ::readlink(FdPath(fd).c_str(), path, sizeof(path) - 1);
  if (n < 0) return ErrnoError() << "readlink " << FdPath(fd);
  path[n] = '\0';
  unique_fd f(::open(path, O_PATH | O_CLOEXEC));
  if (!f.ok()) return ErrnoError() << "open " << path;
  if (::fstat(f.get(), &got) != 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino ||
      got.st_rdev != want.st_rdev)
    return Err() << path << " is no longer the file of fd " << fd;
  return f;
}

Result<void> Step(int root_fd, const MountStep& s) {
  const std::string rel = StripSlashes(s.target);
  switch (s.kind) {
    case MountStep::Kind::kFilesystem: {
      auto t = ResolveInRoot(root_fd, s.target, true, MountStep::TargetType::kDirectory);
      if (!t.ok()) return t.error();
      if (::mount(s.source.c_str(), FdPath(t->get()).c_str(), s.fstype.c_str(), s.flags,
                  s.data.empty() ? nullptr : s.data.c_str()) != 0)
        return ErrnoError();
      return {};
    }
    case MountStep::Kind::kBind: {
      unique_fd src;
      if (s.source_in_jail) {
        auto r = OpenInRoot(root_fd, StripSlashes(s.source), O_PATH);
        if (!r.ok()) return r.error();
        src = std::move(*r);
      } else if (s.source.starts_with("/proc/self/fd/")) {
        auto r = OpenFdPathInThisNamespace(std::stoi(s.source.substr(14)));
        if (!r.ok()) return r.error();
        src = std::move(*r);
      } else {
        src.reset(::open(s.source.c_str(), O_PATH | O_CLOEXEC));
        if (!src.ok()) return ErrnoError() << "open " << s.source;
      }
      auto t = ResolveInRoot(root_fd, s.target, true, s.target_type, src.get());
      if (!t.ok()) return t.error();
      unsigned long flags = MS_BIND | (s.recursive ? MS_REC : 0);
      if (::mount(FdPath(src.get()).c_str(), FdPath(t->get()).c_str(), nullptr, flags, nullptr) !=
          0)
        return ErrnoError();
      return {};
    }
    case MountStep::Kind::kRemountReadOnly: {
      // Resolved again: the fd must name the mount now on top.
      auto t = OpenInRoot(root_fd, rel, O_PATH);
      if (!t.ok()) return t.error();
      unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | LockedFlags(t->get());
      if (::mount(nullptr, FdPath(t->get()).c_str(), nullptr, flags, nullptr) != 0)
        return ErrnoError();
      return {};
    }
    case MountStep::Kind::kSymlink:
    case MountStep::Kind::kWriteFile: {
      size_t slash = rel.find_last_of('/');
      std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
      std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
      auto dir = MakeDirsInRoot(root_fd, parent);
      if (!dir.ok()) return dir.error();
      // O_PATH fds cannot be used as *at() bases for creation: reopen.
      unique_fd d(::openat(dir->get(), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
      if (!d.ok()) return ErrnoError() << "open /" << parent;
      if (s.kind == MountStep::Kind::kSymlink) {
        if (::symlinkat(s.source.c_str(), d.get(), name.c_str()) != 0) return ErrnoError();
        return {};
      }
      unique_fd f(::openat(d.get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!f.ok()) return ErrnoError();
      return WriteFully(f.get(), s.source.data(), s.source.size());
    }
  }
  return {};
}

}  // namespace

Result<unique_fd> ResolveInRoot(int root_fd, const std::string& path, bool create,
                                MountStep::TargetType type, int like_fd) {
  const std::string rel = StripSlashes(path);
  auto fd = OpenInRoot(root_fd, rel, O_PATH);
  if (fd.ok() || !create || fd.error().code != ENOENT) return fd;
  size_t slash = rel.find_last_of('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  auto dir = MakeDirsInRoot(root_fd, parent);
  if (!dir.ok()) return dir.error();
  bool directory = type == MountStep::TargetType::kDirectory;
  if (type == MountStep::TargetType::kLikeSource) {
    struct stat st {};
    if (like_fd < 0 || ::fstat(like_fd, &st) != 0) return ErrnoError() << "stat mount source";
    directory = S_ISDIR(st.st_mode);
  }
  int r = directory ? ::mkdirat(dir->get(), name.c_str(), 0755)
                    : ::mknodat(dir->get(), name.c_str(), S_IFREG | 0644, 0);
  if (r != 0 && errno != EEXIST)
    return ErrnoError() << "create /" << rel << " inside the jail root";
  return OpenInRoot(root_fd, rel, O_PATH);
}

Result<void> RunMountStep(int root_fd, const MountStep& step) {
  if (step.optional) {
    auto exists = OpenInRoot(root_fd, StripSlashes(step.target), O_PATH);
    if (!exists.ok() && exists.error().code == ENOENT) return {};
    if (step.kind == MountStep::Kind::kBind && !step.source_in_jail &&
        ::access(step.source.c_str(), F_OK) != 0)
      return {};
  }
  auto r = Step(root_fd, step);
  if (!r.ok()) {
    Error e = r.error();
    return ErrnoErrorCode(e.code) << DescribeMountStep(step)
                                  << (e.message.empty() ? "" : ": " + e.message);
  }
  return {};
}

Result<void> SetUpJailRoot(const std::string& rootfs, const std::vector<MountStep>& plan,
                           bool chroot_fallback_ok) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return ErrnoError() << "make / a recursive slave";
  if (::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return ErrnoError() << "bind the jail root " << rootfs << " onto itself";
  unique_fd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return ErrnoError() << "open the jail root " << rootfs;
  for (const MountStep& s : plan)
    if (auto r = RunMountStep(root.get(), s); !r.ok()) return r;
  if (::fchdir(root.get()) != 0) return ErrnoError() << "chdir into the jail root";
  // pivot_root(".", "."): the old root ends up stacked under the new one
  // and is detached at once; no directory for it needed in the image.
  if (sys::PivotRoot(".", ".") == 0) {
    if (::umount2(".", MNT_DETACH) != 0) return ErrnoError() << "detach the host root";
  } else if (errno == EINVAL && !chroot_fallback_ok) {
    return Err() << "pivot_root into " << rootfs
                 << " refused (the host root is the initramfs), and a chroot cannot hold a jail "
                    "that keeps CAP_SYS_ADMIN or CAP_SYS_CHROOT; run it from PID 1's jail mode "
                    "(which leaves the initramfs) or drop those capabilities";
  } else if (errno == EINVAL) {
    // The host root is the initramfs (rootfs), which pivot_root refuses
    // (PID 1 in jail mode, the VM tests): move the jail root over "/" and
    // chroot, as runc's no-pivot does. The host root stays underneath, out
    // of reach without CAP_SYS_CHROOT/CAP_SYS_ADMIN, which the jail's
    // capability cut takes away unless granted.
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0)
      return ErrnoError() << "move the jail root over / (pivot_root refused: initramfs root)";
    if (::chroot(".") != 0) return ErrnoError() << "chroot into " << rootfs;
  } else {
    return ErrnoError() << "pivot_root into " << rootfs;
  }
  if (::chdir("/") != 0) return ErrnoError() << "chdir /";
  return {};
}

}  // namespace jail
}  // namespace initos
