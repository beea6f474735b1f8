#include "os/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <sstream>

#include "base/file.h"
#include "base/log.h"

namespace initos {
inline namespace os {

std::vector<MountSpec> EarlyMounts() {
  constexpr unsigned long kNoSuidNoDev = MS_NOSUID | MS_NODEV;
  constexpr unsigned long kSafe = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  return {
      {"proc", "/proc", "proc", kSafe, "", false},
      {"sysfs", "/sys", "sysfs", kSafe, "", false},
      // Device nodes must stay usable: nodev would defeat the point.
      {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", false},
      // A private devpts instance; gid 5 is the conventional "tty" group.
      {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
       "newinstance,ptmxmode=0666,gid=5,mode=620", false},
      {"tmpfs", "/dev/shm", "tmpfs", kSafe, "mode=1777", false},
      {"tmpfs", "/run", "tmpfs", kNoSuidNoDev, "mode=0755", false},
      // cgroup2 is optional: a kernel without it can still run the main program.
      {"cgroup2", "/sys/fs/cgroup", "cgroup2", kSafe, "nsdelegate", true},
  };
}

namespace {

// A directory on a different device than its parent (or the root itself) is
// a mount point: mounting again would stack a second instance on top.
bool IsMountPoint(const std::string& path) {
  struct stat self {
  }, parent{};
  if (::stat(path.c_str(), &self) != 0) return false;
  if (::stat((path + "/..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

}  // namespace

Result<void> MountEarly(const std::string& root, const std::vector<MountSpec>& specs) {
  std::string failures;
  for (const MountSpec& m : specs) {
    std::string target = PathUnderRoot(root, m.target);
    auto made = MakeDirs(target, 0755);
    int err = 0;
    if (!made.ok()) {
      err = made.error().code;
    } else if (IsMountPoint(target)) {
      continue;  // the kernel or an earlier stage mounted it already
    } else if (::mount(m.source.c_str(), target.c_str(), m.fstype.c_str(), m.flags,
                       m.data.empty() ? nullptr : m.data.c_str()) != 0) {
      err = errno;
    }
    if (err == 0 || err == EBUSY) continue;  // EBUSY: already mounted (kernel or earlier init)
    Error e = ErrnoErrorCode(err) << "mount " << m.fstype << " on " << target;
    if (m.optional) {
      LOG(Warning) << e.str() << " (optional, continuing)";
      continue;
    }
    if (!failures.empty()) failures += "; ";
    failures += e.str();
  }
  if (!failures.empty()) return Err() << failures;
  return {};
}

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string Unescape(std::string_view s) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool ToInt(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::vector<MountInfoEntry> ParseMountInfo(std::string_view text) {
  std::vector<MountInfoEntry> out;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    // id parent major:minor root mount-point options [optional...] - fstype source super
    std::istringstream f(line);
    std::vector<std::string> fields;
    std::string w;
    while (f >> w) fields.push_back(w);
    size_t dash = 0;
    for (size_t i = 6; i < fields.size(); ++i) {
      if (fields[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || dash + 1 >= fields.size()) continue;
    MountInfoEntry e;
    if (!ToInt(fields[0], e.id) || !ToInt(fields[1], e.parent_id)) continue;
    e.mount_point = Unescape(fields[4]);
    e.fstype = fields[dash + 1];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> UnmountOrder(const std::vector<MountInfoEntry>& entries) {
  // mountinfo lists mounts in the order they were made, so a mount always
  // follows the one it sits on: reversing puts children first.
  std::vector<std::string> out;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) out.push_back(it->mount_point);
  return out;
}

}  // namespace os
}  // namespace initos
