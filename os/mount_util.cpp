#include "os/mount_util.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "base/sys/syscalls.h"
#include "base/unique_fd.h"
#include "os/blockdev.h"

namespace initos {
inline namespace os {
namespace {

unsigned long MsFlags(const MountRequest& req) {
  return req.attr_flags | (req.read_only ? MS_RDONLY : 0);
}

unsigned MountAttrs(const MountRequest& req) {
  unsigned a = req.read_only ? MOUNT_ATTR_RDONLY : 0;
  if (req.attr_flags & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (req.attr_flags & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (req.attr_flags & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  return a;
}

// Messages the kernel left in the fs context ("e erofs: ..."), one line.
std::string ContextLog(int fsfd) {
  std::string out;
  char buf[512];
  for (int i = 0; i < 8; i++) {
    ssize_t n = ::read(fsfd, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
    while (!out.empty() && out.back() == '\n') out.pop_back();
  }
  return out;
}

Error Describe(const MountRequest& req, const char* step, int fsfd) {
  Error e = ErrnoError() << "mount " << req.fstype << " " << req.source << " on " << req.target
                         << " (" << step << ")";
  if (fsfd >= 0) {
    std::string log = ContextLog(fsfd);
    if (!log.empty()) e.message += " [kernel: " + log + "]";
  }
  return e;
}

// Returns ENOSYS-coded error when the new API is missing, so the caller falls back.
Result<void> MountNewApi(const MountRequest& req) {
  int raw = sys::Fsopen(req.fstype.c_str(), FSOPEN_CLOEXEC);
  if (raw < 0) return Describe(req, "fsopen", -1);
  unique_fd fs(raw);
  if (sys::Fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", req.source.c_str(), 0) != 0)
    return Describe(req, "source", fs.get());
  if (req.read_only && sys::Fsconfig(fs.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) != 0)
    return Describe(req, "ro", fs.get());
  for (const auto& [key, value] : req.options) {
    int r = value.empty()
                ? sys::Fsconfig(fs.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                : sys::Fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
    if (r != 0) return Describe(req, key.c_str(), fs.get());
  }
  if (sys::Fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return Describe(req, "create", fs.get());
  raw = sys::Fsmount(fs.get(), FSMOUNT_CLOEXEC, MountAttrs(req));
  if (raw < 0) return Describe(req, "fsmount", fs.get());
  unique_fd mnt(raw);
  if (sys::MoveMount(mnt.get(), "", AT_FDCWD, req.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return Describe(req, "move_mount", -1);
  return {};
}

}  // namespace

std::string MountDataString(const MountRequest& req) {
  std::string s;
  for (const auto& [key, value] : req.options) {
    if (!s.empty()) s += ",";
    s += value.empty() ? key : key + "=" + value;
  }
  return s;
}

Result<void> Mount(const MountRequest& req) {
  auto r = MountNewApi(req);
  if (r.ok() || r.error().code != ENOSYS) return r;
  std::string data = MountDataString(req);
  if (::mount(req.source.c_str(), req.target.c_str(), req.fstype.c_str(), MsFlags(req),
              data.empty() ? nullptr : data.c_str()) != 0)
    return ErrnoError() << "mount " << req.fstype << " " << req.source << " on " << req.target
                        << (data.empty() ? "" : " -o ") << data;
  return {};
}

Result<void> MountErofs(const std::string& device, const std::string& target) {
  return Mount(MountRequest{"erofs", device, target, {}, true, 0});
}

Result<void> MountOverlay(const std::string& lower, const std::string& upper,
                          const std::string& work, const std::string& target) {
  return Mount(MountRequest{
      "overlay", "overlay", target, {{"lowerdir", lower}, {"upperdir", upper}, {"workdir", work}}});
}

Result<void> MountTmpfs(const std::string& target, const std::string& mode,
                        const std::string& size) {
  MountRequest req{"tmpfs", "tmpfs", target, {{"mode", mode}}, false, MS_NOSUID | MS_NODEV};
  if (!size.empty()) req.options.emplace_back("size", size);
  return Mount(req);
}

Result<void> MountExt4State(const std::string& device, const std::string& target) {
  auto probe = ProbeFilesystem(device);
  if (!probe.ok()) return probe.error();
  if (probe->type == FsType::kNone)
    return Err() << "state partition " << device
                 << " has no filesystem: set [state] create = true or run `mkfs.ext4 -L "
                    "initos-state "
                 << device << "`";
  if (probe->type != FsType::kExt4)
    return Err() << "state partition " << device << " holds " << FsTypeName(probe->type)
                 << ", not ext4: point [state] device at the right partition";
  // noexec: nothing on the unverified state partition is ever a program,
  // also not through /run/initos/state (bound into the new root).
  return Mount(MountRequest{"ext4", device, target, {}, false, MS_NOSUID | MS_NODEV | MS_NOEXEC});
}

}  // namespace os
}  // namespace initos
