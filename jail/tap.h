// The host side of a VM jail's network = "tap": a tap device made through
// /dev/net/tun (no `ip tuntap`), addressed and brought up over rtnetlink
// (jail/netlink.h). The device is not persistent: it lives as long as an
// fd of it is open, so when QEMU (holding the fd) exits and the supervisor
// has closed its copy, the kernel removes the tap; nothing is left behind.
#pragma once

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

// "tap-" + name, at most 15 characters (IFNAMSIZ - 1).
std::string DefaultTapName(const std::string& jail_name);
// The jail's host-interface, or DefaultTapName.
std::string TapName(const JailConfig& jail);

// Creates tap `name` in the caller's network namespace and returns its fd
// (O_CLOEXEC; hand it to QEMU as -netdev tap,fd=N). IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR: QEMU reads the flags back (TUNGETIFF) and uses the virtio
// net header for offloads when it is set. Fails with EBUSY when a device of
// that name exists.
Result<unique_fd> CreateTap(const std::string& name);

// Brings `name` up and, when host_address ("10.0.1.1/30") is not empty,
// puts that address on it: the host's end of the link to the guest.
Result<void> ConfigureTapHost(const std::string& name, const std::string& host_address);

}  // namespace jail
}  // namespace initos
