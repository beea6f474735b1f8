#include "jail/user.h"

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <charconv>
#include <optional>
#include <vector>

#include "base/file.h"

namespace initos {
inline namespace jail {
namespace {

std::optional<uint32_t> Number(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> Split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t i = line.find(sep, start);
    out.push_back(line.substr(start, i == std::string_view::npos ? i : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

// The fields of the first line of `db` whose first field is `name`.
std::optional<std::vector<std::string_view>> FindEntry(std::string_view db, std::string_view name,
                                                       size_t min_fields) {
  for (std::string_view line : Split(db, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto f = Split(line, ':');
    if (f.size() >= min_fields && f[0] == name) return f;
  }
  return std::nullopt;
}

}  // namespace

Result<JailIds> ResolveJailIds(std::string_view user, std::string_view group,
                               std::string_view passwd, std::string_view group_file) {
  JailIds ids;
  std::optional<gid_t> primary;
  if (auto n = Number(user)) {
    ids.uid = *n;
  } else {
    auto e = FindEntry(passwd, user, 4);
    if (!e)
      return Err() << "user " << user
                   << " not in the jail's /etc/passwd; add it there or give a number";
    auto uid = Number((*e)[2]);
    auto gid = Number((*e)[3]);
    if (!uid || !gid) return Err() << "user " << user << ": malformed /etc/passwd line in the jail";
    ids.uid = *uid;
    primary = *gid;
  }
  if (group.empty()) {
    if (!primary) {  // a numeric user: its passwd entry, if any, names the group
      for (std::string_view line : Split(passwd, '\n')) {
        auto f = Split(line, ':');
        if (f.size() >= 4 && Number(f[2]) == ids.uid) {
          primary = Number(f[3]);
          break;
        }
      }
    }
    ids.gid = primary.value_or(ids.uid);
    return ids;
  }
  if (auto n = Number(group)) {
    ids.gid = *n;
    return ids;
  }
  auto e = FindEntry(group_file, group, 3);
  if (!e)
    return Err() << "group " << group
                 << " not in the jail's /etc/group; add it there or give a number";
  auto gid = Number((*e)[2]);
  if (!gid) return Err() << "group " << group << ": malformed /etc/group line in the jail";
  ids.gid = *gid;
  return ids;
}

Result<void> BecomeNamespaceRoot() {
  if (::setgroups(0, nullptr) != 0) return ErrnoError() << "setgroups (clear host groups)";
  if (::setresgid(0, 0, 0) != 0) return ErrnoError() << "setgid 0 in the user namespace";
  if (::setresuid(0, 0, 0) != 0) return ErrnoError() << "setuid 0 in the user namespace";
  return {};
}

Result<void> SwitchToJailUser(const std::string& user, const std::string& group) {
  auto read = [](const char* path) {
    auto r = ReadFileToString(path);
    return r.ok() ? *r : std::string();  // no file: only numbers resolve
  };
  std::string passwd, groups;
  if (!Number(user) || group.empty()) passwd = read("/etc/passwd");
  if (!group.empty() && !Number(group)) groups = read("/etc/group");
  auto ids = ResolveJailIds(user, group, passwd, groups);
  if (!ids.ok()) return ids.error();
  if (::setgroups(0, nullptr) != 0) return ErrnoError() << "setgroups (clear)";
  if (::setresgid(ids->gid, ids->gid, ids->gid) != 0) return ErrnoError() << "setgid " << ids->gid;
  if (ids->uid != 0 && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return ErrnoError() << "PR_SET_KEEPCAPS";
  if (::setresuid(ids->uid, ids->uid, ids->uid) != 0) return ErrnoError() << "setuid " << ids->uid;
  return {};
}

}  // namespace jail
}  // namespace initos
