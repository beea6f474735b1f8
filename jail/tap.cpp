#include "jail/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "jail/netlink.h"

namespace initos {
inline namespace jail {

std::string DefaultTapName(const std::string& jail_name) {
  return ("tap-" + jail_name).substr(0, IFNAMSIZ - 1);
}

std::string TapName(const JailConfig& jail) {
  return jail.network.host_interface.empty() ? DefaultTapName(jail.name)
                                             : jail.network.host_interface;
}

Result<unique_fd> CreateTap(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return Err() << "tap name \"" << name << "\" must have 1 to " << IFNAMSIZ - 1 << " characters";
  unique_fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd) return ErrnoError() << "open /dev/net/tun (is the tun module loaded?)";
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return ErrnoError() << "TUNSETIFF tap " << name;
  return fd;
}

Result<void> ConfigureTapHost(const std::string& name, const std::string& host_address) {
  auto rt = Rtnetlink::Open();
  if (!rt.ok()) return rt.error();
  auto index = rt->InterfaceIndex(name);
  if (!index.ok()) return index.error();
  if (!host_address.empty()) {
    auto add = BuildAddressAdd(*index, host_address);
    if (!add.ok()) return add.error();
    if (auto r = rt->Request(*add); !r.ok())
      return Wrap(r.error(), "adding " + host_address + " to tap " + name);
  }
  NetlinkMessage up = BuildLinkUp(*index);
  if (auto r = rt->Request(up); !r.ok()) return Wrap(r.error(), "bringing tap " + name + " up");
  return {};
}

}  // namespace jail
}  // namespace initos
