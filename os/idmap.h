// Idmapped mounts: a jail's verified image (EROFS, owned by host uid 0) is
// shown to an unprivileged jail owned by its mapped root, without copying or
// chowning anything (mount_setattr MOUNT_ATTR_IDMAP, Linux 5.12; EROFS and
// overlayfs lower layers support it since 5.19).
#pragma once

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

// "0 100000 65536\n": one uid_map/gid_map line. Pure.
std::string IdMapLine(const IdRange& range);

}  // namespace os
}  // namespace initos
