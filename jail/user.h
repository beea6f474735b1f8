// Who the jail runs as: becoming root of an unprivileged jail's user
// namespace once the supervisor wrote its maps (os/idmap.h WriteIdMaps, while
// the child waits), and the configured user/group resolved against the jail's own
// /etc/passwd and /etc/group. Privileged jails have no user namespace.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "format/jail_config.h"
#include "os/idmap.h"  // IdMapLine, WriteIdMaps

namespace initos {
inline namespace jail {

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
