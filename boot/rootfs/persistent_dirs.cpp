#include "boot/rootfs/persistent_dirs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/file.h"
#include "base/log.h"
#include "base/safe_open.h"
#include "os/mount_util.h"

namespace initos {
inline namespace boot {

std::string EscapePersistentDir(std::string_view dir) {
  if (dir.starts_with('/')) dir.remove_prefix(1);
  std::string out;
  for (char c : dir) {
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2f";
    else if (c == ':')
      out += "%3a";
    else
      out += c;
  }
  return out;
}

std::vector<PersistentMount> PlanPersistentMounts(const std::vector<std::string>& persistent,
                                                  const std::vector<std::string>& allow_exec) {
  std::vector<PersistentMount> plan;
  for (const std::string& d : persistent) {
    bool exec = std::find(allow_exec.begin(), allow_exec.end(), d) != allow_exec.end();
    plan.push_back({d, EscapePersistentDir(d), !exec});
  }
  // "/var" sorts before "/var/lib": a parent is mounted before its children.
  std::sort(plan.begin(), plan.end(),
            [](const PersistentMount& a, const PersistentMount& b) { return a.dir < b.dir; });
  plan.erase(std::unique(plan.begin(), plan.end()), plan.end());
  return plan;
}

namespace {

Error Fail(const std::string& what, const Error& e) {
  return Wrap(e, "rootfs: persistent " + what);
}

}  // namespace

Result<void> MountPersistentDirs(const std::vector<PersistentMount>& plan,
                                 const std::string& lower_dir, const std::string& state_dir,
                                 const std::string& target, const std::string& run_dir) {
  auto lower = OpenFile(lower_dir, O_RDONLY | O_DIRECTORY);
  if (!lower.ok()) return Fail("directories", lower.error());
  auto state = OpenFile(state_dir, O_RDONLY | O_DIRECTORY);
  if (!state.ok()) return Fail("directories", state.error());
  struct stat st {};
  if (::fstatat(state->get(), std::string(kLegacyUpperDir).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    LOG(Warning) << "rootfs: " << state_dir << "/" << kLegacyUpperDir
                 << " (the whole-root upper layer of older initos) is ignored: only "
                    "state.persistent directories persist now; move what you need to "
                 << state_dir << "/" << kPersistDir << "/DIR/upper and delete it";
  for (const PersistentMount& p : plan) {
    // overlayfs splits lowerdir at ':'; such a path cannot be a lower layer.
    if (p.dir.find(':') != std::string::npos) {
      LOG(Warning) << "rootfs: persistent directory " << p.dir
                   << " contains ':', which overlayfs cannot take; it stays volatile: rename it";
      continue;
    }
    std::string rel = p.dir.substr(1);
    std::string lower_path = lower_dir + p.dir;
    // Inside the image, an absolute symlink would resolve in the initramfs:
    // only a real directory path of the verified image is a lower layer.
    auto in_image = OpenBeneath(lower->get(), rel, O_RDONLY | O_DIRECTORY);
    if (!in_image.ok() && in_image.error().code != ENOENT) {
      LOG(Warning) << "rootfs: persistent directory " << p.dir << " is not a plain directory in "
                   << "the image (" << in_image.error().str()
                   << "); it stays volatile: list its real path in state.persistent";
      continue;
    }
    if (!in_image.ok()) {
      // Not in the image: an empty lower, and the mount point in the root
      // overlay's (tmpfs) upper layer.
      lower_path = run_dir + "/overlay/empty";
      auto e = MakeDirs(lower_path, 0755);
      if (!e.ok()) return Fail(p.dir, e.error());
      auto m = MakeDirs(target + p.dir, 0755);
      if (!m.ok()) return Fail(p.dir, m.error());
    }
    std::string layer = std::string(kPersistDir) + "/" + p.escape;
    auto up = MakeDirsBeneath(state->get(), layer + "/upper", 0755);
    if (!up.ok())
      return Err() << "rootfs: persistent " << p.dir << ": " << state_dir << "/" << up.error().str()
                   << ": remove it from the state partition";
    auto work = MakeDirsBeneath(state->get(), layer + "/work", 0700);
    if (!work.ok())
      return Err() << "rootfs: persistent " << p.dir << ": " << state_dir << "/"
                   << work.error().str() << ": remove it from the state partition";
    std::string base = state_dir + "/" + layer;
    MountRequest req{
        "overlay",
        "overlay",
        target + p.dir,
        {{"lowerdir", lower_path}, {"upperdir", base + "/upper"}, {"workdir", base + "/work"}},
        false,
        MS_NOSUID | MS_NODEV | (p.noexec ? static_cast<unsigned long>(MS_NOEXEC) : 0UL)};
    auto m = Mount(req);
    if (!m.ok()) return Fail(p.dir, m.error());
    LOG(Info) << "rootfs: " << p.dir << " persists on the state partition ("
              << (p.noexec ? "nosuid,nodev,noexec" : "nosuid,nodev") << ")";
  }
  return {};
}

}  // namespace boot
}  // namespace initos
