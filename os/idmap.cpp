#include "os/idmap.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/sys/syscalls.h"

namespace initos {
inline namespace os {

std::string IdMapLine(const IdRange& range) {
  return "0 " + std::to_string(range.host) + " " + std::to_string(range.count) + "\n";
}

Result<void> WriteIdMapText(pid_t pid, const std::string& uid_map, const std::string& gid_map,
                            bool deny_setgroups) {
  std::string proc = "/proc/" + std::to_string(pid);
  auto line = [](const std::string& map) {
    std::string s = map;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    for (char& c : s)
      if (c == '\n') c = ',';
    return s;
  };
  if (auto r = WriteStringToFile(proc + "/setgroups", deny_setgroups ? "deny" : "allow"); !r.ok())
    return Err() << "write setgroups of the jail: " << r.error().str();
  if (auto r = WriteStringToFile(proc + "/gid_map", gid_map); !r.ok())
    return Err() << "write gid_map " << line(gid_map) << ": " << r.error().str()
                 << "; is the range free and below /etc/subgid limits?";
  if (auto r = WriteStringToFile(proc + "/uid_map", uid_map); !r.ok())
    return Err() << "write uid_map " << line(uid_map) << ": " << r.error().str();
  return {};
}

Result<void> WriteIdMaps(pid_t pid, const IdRange& uids, const IdRange& gids, bool deny_setgroups) {
  return WriteIdMapText(pid, IdMapLine(uids), IdMapLine(gids), deny_setgroups);
}

Result<unique_fd> UserNamespaceWithMaps(const IdRange& uids, const IdRange& gids) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoError() << "pipe";
  unique_fd r(p[0]), w(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError() << "fork";
  if (pid == 0) {
    // Only the namespace matters: wait until the parent has its fd.
    w.reset();
    char c;
    if (::unshare(CLONE_NEWUSER) != 0) ::_exit(1);
    ::close(1);  // nothing to say; the parent reads the maps back through /proc
    (void)!::read(r.get(), &c, 1);
    ::_exit(0);
  }
  r.reset();
  auto finish = [&] {
    w.reset();
    ::waitpid(pid, nullptr, 0);
  };
  std::string proc = "/proc/" + std::to_string(pid);
  // The child unshares right after fork: wait until its namespace differs.
  unique_fd ns;
  for (int i = 0; i < 1000; ++i) {
    struct stat mine {
    }, its{};
    if (::stat("/proc/self/ns/user", &mine) == 0 &&
        ::stat((proc + "/ns/user").c_str(), &its) == 0 && mine.st_ino != its.st_ino)
      break;
    ::usleep(1000);
  }
  Result<void> maps = WriteIdMaps(pid, uids, gids, /*deny_setgroups=*/true);
  if (!maps.ok()) {
    finish();
    return Err() << "user namespace for the idmapped rootfs: " << maps.error().str();
  }
  ns.reset(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  int err = errno;
  finish();
  if (!ns.ok()) {
    errno = err;
    return ErrnoError() << "open " << proc << "/ns/user";
  }
  return ns;
}

Result<void> IdmappedBind(const std::string& source, const std::string& target, int userns_fd) {
  unique_fd tree(sys::OpenTree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree.ok()) return ErrnoError() << "open_tree " << source;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (sys::MountSetattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0)
    return ErrnoError() << "idmapped mount of " << source
                        << " (needs Linux 5.19+ with idmapped mounts for its filesystem)";
  if (sys::MoveMount(tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return ErrnoError() << "move_mount " << source << " to " << target;
  return {};
}

}  // namespace os
}  // namespace initos
