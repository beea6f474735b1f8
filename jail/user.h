// Who the jail runs as: the uid/gid maps of an unprivileged jail's user
// namespace (written by the supervisor, the parent, while the child waits),
// and the configured user/group resolved against the jail's own
// /etc/passwd and /etc/group. Privileged jails have no user namespace.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

// "0 HOST COUNT\n": inside ids [0, COUNT) are host ids [HOST, HOST+COUNT) (pure).
std::string IdMapLine(const IdRange& range);

// Writes /proc/PID/setgroups ("deny" or "allow"), gid_map and uid_map.
// "allow" is safe when the writer is host root and every mapped gid is the
// jail's own (the "deny" rule protects negative-group ACLs from
// unprivileged map writers, CVE-2014-8989), and an OS in the jail needs
// setgroups for its services.
Result<void> WriteIdMaps(pid_t pid, const IdRange& uids, const IdRange& gids, bool deny_setgroups);

struct JailIds {
  uid_t uid = 0;
  gid_t gid = 0;
  bool operator==(const JailIds&) const = default;
};

// user: a number or a name from `passwd` (passwd(5) text); group: a number,
// a name from `group` (group(5) text), or "" for the user's primary group.
// Errors name the missing user or group and the file (pure).
Result<JailIds> ResolveJailIds(std::string_view user, std::string_view group,
                               std::string_view passwd, std::string_view group_file);

// First child step of an unprivileged jail, once the maps are written: the
// child still carries its creator's host ids (unmapped inside, so files it
// creates would fail with EOVERFLOW); become the namespace's root, mapped
// to the range's first host id, with no host supplementary groups.
Result<void> BecomeNamespaceRoot();

// Child step, after pivot_root: resolves user/group against the jail's own
// /etc/passwd and /etc/group (read only for names), clears supplementary
// groups, setgid, setuid. Keeps the permitted capabilities across a switch
// to a non-root uid (PR_SET_KEEPCAPS) so ApplyCapabilities, next, decides.
Result<void> SwitchToJailUser(const std::string& user, const std::string& group);

}  // namespace jail
}  // namespace initos
