#include "boot/handover/switch_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "base/file.h"
#include "base/log.h"
#include "base/sys/syscalls.h"
#include "base/unique_fd.h"
#include "os/mounts.h"

namespace initos {
inline namespace boot {
namespace {

// True if path is prefix or lies below it ("/run/x" is under "/run", not "/ru").
bool IsUnder(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string StripTrailingSlash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

std::string SwitchRootStep::str() const {
  switch (kind) {
    case Kind::kMoveMount:
      return "move " + from + " -> " + to;
    case Kind::kDetach:
      return "detach " + from;
    case Kind::kDeleteTree: {
      std::string s = "delete initramfs contents below " + from;
      if (!keep.empty()) s += " (keeping " + std::to_string(keep.size()) + " paths)";
      return s;
    }
    case Kind::kChdir:
      return "chdir " + from;
    case Kind::kMoveRoot:
      return "move " + from + " -> /";
    case Kind::kChroot:
      return "chroot .";
    case Kind::kExec: {
      std::string s = "exec";
      for (const auto& a : argv) s += " " + a;
      return s;
    }
  }
  return "?";
}

std::vector<std::string> MountPointsFromMountInfo(std::string_view text) {
  std::vector<std::string> out;
  for (auto& e : ParseMountInfo(text)) out.push_back(std::move(e.mount_point));
  return out;
}

std::string MountInfoBelow(std::string_view text, const std::string& root_in) {
  const std::string root = StripTrailingSlash(root_in);
  if (root.empty() || root == "/") return std::string(text);
  std::string out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // The fifth space-separated field is the (escaped) mount point.
    size_t pos = 0;
    for (int i = 0; i < 4 && pos != std::string_view::npos; ++i) {
      pos = line.find(' ', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos == std::string_view::npos) continue;
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) continue;
    std::string_view mp = line.substr(pos, end - pos);
    std::string rel;
    if (mp == root) {
      rel = "/";
    } else if (IsUnder(mp, root)) {
      rel = std::string(mp.substr(root.size()));
    } else {
      continue;
    }
    out += std::string(line.substr(0, pos)) + rel + std::string(line.substr(end)) + "\n";
  }
  return out;
}

Result<std::vector<SwitchRootStep>> PlanSwitchRoot(const SwitchRootInput& in) {
  using K = SwitchRootStep::Kind;
  const std::string new_root = StripTrailingSlash(in.new_root);
  if (new_root.empty() || new_root[0] != '/' || new_root == "/") {
    return Err() << "switch-root: new root '" << in.new_root
                 << "' must be an absolute directory other than /";
  }
  if (in.init.empty() || in.init[0] != '/') {
    return Err() << "switch-root: OS init '" << in.init
                 << "' must be an absolute path inside the new root (init.os-init)";
  }
  const std::vector<std::string> mounts = MountPointsFromMountInfo(in.mountinfo);
  if (!Contains(mounts, new_root)) {
    return Err() << "switch-root: " << new_root
                 << " is not a mount point; mount the OS root there before switching";
  }

  std::vector<SwitchRootStep> steps;
  std::vector<std::string> moved;
  for (const auto& raw : in.api_mounts) {
    std::string api = StripTrailingSlash(raw);
    if (!Contains(mounts, api) || IsUnder(api, new_root)) continue;
    // A submount moves with its parent: moving it again would fail.
    bool inside_moved = std::any_of(moved.begin(), moved.end(),
                                    [&](const std::string& m) { return IsUnder(api, m); });
    if (inside_moved) continue;
    steps.push_back({K::kMoveMount, api, new_root + api, {}, {}});
    moved.push_back(api);
  }

  // Everything else mounted in the initramfs would end up hidden below the
  // new root, pinning the old root's memory: detach it (topmost only, a
  // lazy detach takes the subtree along).
  std::vector<std::string> others;
  for (const auto& m : mounts) {
    if (m == "/" || IsUnder(m, new_root) || IsUnder(new_root, m)) continue;
    auto under_any = [&](const std::vector<std::string>& v) {
      return std::any_of(v.begin(), v.end(), [&](const std::string& p) { return IsUnder(m, p); });
    };
    if (under_any(moved) || under_any(in.keep)) continue;
    if (!Contains(others, m)) others.push_back(m);
  }
  std::sort(others.begin(), others.end());
  std::vector<std::string> topmost;
  for (const auto& m : others) {
    bool nested = std::any_of(topmost.begin(), topmost.end(),
                              [&](const std::string& p) { return IsUnder(m, p); });
    if (!nested) topmost.push_back(m);
  }
  for (const auto& m : topmost) steps.push_back({K::kDetach, m, "", {}, {}});

  std::vector<std::string> keep;
  for (const auto& k : in.keep) keep.push_back(StripTrailingSlash(k));
  steps.push_back({K::kDeleteTree, "/", "", keep, {}});
  steps.push_back({K::kChdir, new_root, "", {}, {}});
  steps.push_back({K::kMoveRoot, new_root, "/", {}, {}});
  steps.push_back({K::kChroot, ".", "", {}, {}});
  std::vector<std::string> argv = in.argv.empty() ? std::vector<std::string>{in.init} : in.argv;
  steps.push_back({K::kExec, in.init, "", {}, argv});
  return steps;
}

Result<std::string> FindOsInit(const std::string& new_root_dir, const std::string& configured) {
  auto root = OpenFile(new_root_dir, O_PATH | O_DIRECTORY);
  if (!root.ok()) return Wrap(root.error(), "switch-root: new root");
  std::vector<std::string> candidates;
  if (!configured.empty()) {
    candidates.push_back(configured);
  } else {
    candidates = {"/sbin/init", "/lib/systemd/systemd", "/etc/init", "/bin/init"};
  }
  std::string tried;
  for (const auto& c : candidates) {
    if (c.empty() || c[0] != '/') {
      return Err() << "switch-root: init.os-init '" << c << "' must be an absolute path";
    }
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT;
    unique_fd fd(sys::Openat2(root->get(), c.c_str() + 1, &how, sizeof(how)));
    struct stat st {};
    if (fd.ok() && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
      return c;
    }
    if (!tried.empty()) tried += ", ";
    tried += c;
    if (!fd.ok())
      tried += std::string(" (") + std::strerror(errno) + ")";
    else
      tried += " (not an executable file)";
  }
  if (!configured.empty()) {
    return Err() << "switch-root: init.os-init " << tried << " in " << new_root_dir
                 << "; fix init.os-init or the OS image";
  }
  return Err() << "switch-root: no OS init in " << new_root_dir << ": tried " << tried
               << "; install systemd-sysv in the OS image or set init.os-init";
}

Result<size_t> DeleteTreeSameFs(int dir_fd, const std::vector<std::string>& keep) {
  struct stat top {};
  if (::fstat(dir_fd, &top) != 0) return ErrnoError() << "fstat";
  size_t removed = 0;
  // Recursion depth is bounded by the initramfs' directory depth (small).
  std::function<void(int, const std::string&)> walk = [&](int dfd, const std::string& rel) {
    int dup_fd = ::fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return;
    DIR* dir = ::fdopendir(dup_fd);
    if (!dir) {
      ::close(dup_fd);
      return;
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(dir)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(dir);
    for (const auto& name : names) {
      std::string path = rel + "/" + name;
      if (Contains(keep, path)) continue;
      struct stat st {};
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != top.st_dev) continue;  // a mount point: not ours to delete
        unique_fd sub(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.ok()) continue;
        walk(sub.get(), path);
        bool holds_kept = std::any_of(keep.begin(), keep.end(),
                                      [&](const std::string& k) { return IsUnder(k, path); });
        if (holds_kept) continue;
        if (::unlinkat(dfd, name.c_str(), AT_REMOVEDIR) == 0) ++removed;
      } else if (::unlinkat(dfd, name.c_str(), 0) == 0) {
        ++removed;
      }
    }
  };
  walk(dir_fd, "");
  return removed;
}

namespace {

Result<void> RunStep(const std::string& root, const SwitchRootStep& s,
                     const SwitchRootHooks& hooks) {
  using K = SwitchRootStep::Kind;
  switch (s.kind) {
    case K::kMoveMount: {
      std::string to = PathUnderRoot(root, s.to);
      struct stat st {};
      if (::stat(to.c_str(), &st) != 0) {
        if (::mkdir(to.c_str(), 0755) != 0) {
          return ErrnoError() << "the OS root has no " << s.to << " to move " << s.from
                              << " onto (create it in the image)";
        }
      }
      if (::mount(PathUnderRoot(root, s.from).c_str(), to.c_str(), nullptr, MS_MOVE, nullptr) !=
          0) {
        return ErrnoError() << "move mount " << s.from << " -> " << s.to;
      }
      return {};
    }
    case K::kDetach:
      if (::umount2(PathUnderRoot(root, s.from).c_str(), MNT_DETACH) != 0) {
        return ErrnoError() << "detach " << s.from;
      }
      return {};
    case K::kDeleteTree: {
      auto fd = OpenFile(PathUnderRoot(root, s.from), O_RDONLY | O_DIRECTORY);
      if (!fd.ok()) return fd.error();
      struct statfs sfs {};
      if (::fstatfs(fd->get(), &sfs) != 0) return ErrnoError() << "statfs " << s.from;
      if (sfs.f_type != TMPFS_MAGIC && sfs.f_type != RAMFS_MAGIC) {
        // Only an initramfs is deleted; anything else means the plan is wrong.
        LOG(Warning) << "switch-root: " << s.from << " is not tmpfs/ramfs; not deleting it";
        return {};
      }
      auto n = DeleteTreeSameFs(fd->get(), s.keep);
      if (!n.ok()) return n.error();
      LOG(Info) << "switch-root: deleted " << *n << " initramfs entries";
      return {};
    }
    case K::kChdir:
      if (::chdir(PathUnderRoot(root, s.from).c_str()) != 0)
        return ErrnoError() << "chdir " << s.from;
      return {};
    case K::kMoveRoot:
      if (::mount(".", PathUnderRoot(root, s.to).c_str(), nullptr, MS_MOVE, nullptr) != 0) {
        return ErrnoError() << "move " << s.from << " onto /";
      }
      return {};
    case K::kChroot:
      if (::chroot(".") != 0) return ErrnoError() << "chroot into the new root";
      if (::chdir("/") != 0) return ErrnoError() << "chdir / in the new root";
      return {};
    case K::kExec: {
      if (hooks.exec) return hooks.exec(s.from, s.argv);
      std::vector<char*> argv;
      for (const auto& a : s.argv) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(s.from.c_str(), argv.data());
      return ErrnoError() << "exec OS init " << s.from;
    }
  }
  return Err() << "unknown switch-root step";
}

}  // namespace

Result<void> ExecuteSwitchRoot(const std::string& root, const std::vector<SwitchRootStep>& steps,
                               const SwitchRootHooks& hooks) {
  if (hooks.on_start) hooks.on_start();
  for (const auto& s : steps) {
    LOG(Info) << "switch-root: " << s.str();
    auto r = RunStep(root, s, hooks);
    if (!r.ok()) return Wrap(r.error(), "switch-root");
  }
  return {};
}

}  // namespace boot
}  // namespace initos
