// Idmapped mounts: a jail's verified image (EROFS, owned by host uid 0) is
// shown to an unprivileged jail owned by its mapped root, without copying or
// chowning anything (mount_setattr MOUNT_ATTR_IDMAP, Linux 5.12; EROFS and
// overlayfs lower layers support it since 5.19).
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"

namespace initos {
inline namespace os {

// A user namespace with inside 0..count-1 = host uid/gid ranges, as an fd
// (a short-lived child holds it while the maps are written).
Result<unique_fd> UserNamespaceWithMaps(const IdRange& uids, const IdRange& gids);

// Binds `source` at `target` (an existing directory) through the user
// namespace's mapping.
Result<void> IdmappedBind(const std::string& source, const std::string& target, int userns_fd);

// "0 HOST COUNT\n": inside ids [0, COUNT) are host ids [HOST, HOST+COUNT) (pure).
std::string IdMapLine(const IdRange& range);

// Writes /proc/PID/setgroups ("deny" or "allow"), gid_map and uid_map: a
// jail's child (while it waits) or the helper namespace of an idmapped
// mount. "allow" is safe when the writer is host root and every mapped gid
// is the jail's own (the "deny" rule protects negative-group ACLs from
// unprivileged map writers, CVE-2014-8989), and an OS in the jail needs
// setgroups for its services.
Result<void> WriteIdMaps(pid_t pid, const IdRange& uids, const IdRange& gids, bool deny_setgroups);
// The same with the maps as text (one "INSIDE HOST COUNT" line each): a VM
// jail's QEMU maps one uid and, besides its own gid, the host groups of the
// device nodes it opens (kvm).
Result<void> WriteIdMapText(pid_t pid, const std::string& uid_map, const std::string& gid_map,
                            bool deny_setgroups);

}  // namespace os
}  // namespace initos
