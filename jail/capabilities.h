// Capabilities a jail keeps: everything dropped, then the named ones kept
// (least privilege, like `drop: ALL, add: [NET_BIND_SERVICE]`).
#pragma once

#include <linux/securebits.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

// "NET_ADMIN" or "CAP_NET_ADMIN" (any case) → capability number; unknown
// names are an error naming the name and how to list valid ones.
Result<int> CapabilityFromName(std::string_view name);
Result<std::vector<int>> CapabilitiesFromNames(const std::vector<std::string>& names);

// Child step: bounding set cut to `keep`, permitted = effective = keep,
// inheritable and ambient empty (libcap). Call after the uid/gid switch.
//
// The bounding set is the ceiling: dropping from it is one-way, and it caps
// what any later execve can grant (root's exec rule, setuid-root files, file
// capabilities), so nothing dropped is ever regained. With no_new_privs
// (the jail default) setuid bits and file capabilities are ignored outright.
// No securebits are set by default: SECBIT_NOROOT would strip uid 0 of
// `keep` at the jail's own execve (the app would run with nothing), and
// locked KEEP_CAPS / NO_CAP_AMBIENT_RAISE would break systemd inside, which
// uses both to hand services their AmbientCapabilities=.
Result<void> ApplyCapabilities(const std::vector<int>& keep);

// For an app that must hold no capabilities after its execve whatever its
// uid (nothing runs as a capable root inside): root's exec rule off and the
// uid-change and ambient paths locked.
inline constexpr unsigned long kNoRootSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
// ApplyCapabilities plus these securebits (set first: it needs CAP_SETPCAP).
Result<void> ApplyCapabilities(const std::vector<int>& keep, unsigned long securebits);

}  // namespace jail
}  // namespace initos
