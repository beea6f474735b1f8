// A jail's network, as two halves around the clone: the host side (create
// the veth pair or macvlan, move the jail's end into the jail's network
// namespace, address the host end) runs in the supervisor once the child
// exists; the jail side (loopback up, rename to eth0, addresses, routes)
// runs as a child step inside the new network namespace.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

// Parent side, after clone (child_pid is in the jail's netns).
Result<void> SetUpHostNetwork(const std::string& jail_name, const JailNetwork& net,
                              pid_t child_pid);
// Child side, inside the new netns, before exec.
Result<void> SetUpJailNetwork(const std::string& jail_name, const JailNetwork& net);
// Removes the host-side link if it is still there (veth dies with the netns).
void TearDownHostNetwork(const std::string& jail_name, const JailNetwork& net);

// The default veth host name: "ve-" + name, at most 15 chars.
std::string DefaultVethName(const std::string& jail_name);

}  // namespace jail
}  // namespace initos
