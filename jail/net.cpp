#include "jail/net.h"

#include <fcntl.h>
#include <net/if.h>

#include <cstdio>

#include "base/log.h"
#include "base/unique_fd.h"
#include "jail/netlink.h"

namespace initos {
inline namespace jail {

std::string DefaultVethName(const std::string& jail_name) {
  return ("ve-" + jail_name).substr(0, IFNAMSIZ - 1);
}

namespace {

// The jail's end lives under this name in the host namespace only between
// its creation and the move; unique per jail (a hash, since two long jail
// names may share their first 12 characters) so jails starting together
// never collide. Inside, it is renamed to eth0.
std::string TemporaryName(const char* prefix, const std::string& jail_name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : jail_name) h = (h ^ c) * 16777619u;
  char buf[IFNAMSIZ];
  std::snprintf(buf, sizeof buf, "%s%08x", prefix, h);
  return buf;
}

std::string JailEndName(const std::string& jail_name, const JailNetwork& net) {
  return TemporaryName(net.kind == JailNetworkKind::kMacvlan ? "mv-" : "vp-", jail_name);
}

std::string HostVethName(const std::string& jail_name, const JailNetwork& net) {
  return net.host_interface.empty() ? DefaultVethName(jail_name) : net.host_interface;
}

Result<void> Send(Rtnetlink& rt, Result<NetlinkMessage> m, const std::string& what) {
  if (!m.ok()) return Wrap(m.error(), what);
  auto r = rt.Request(*m);
  if (!r.ok()) return Wrap(r.error(), what);
  return {};
}

Result<void> MoveIntoNetns(Rtnetlink& rt, const std::string& name, pid_t child_pid) {
  auto index = rt.InterfaceIndex(name);
  if (!index.ok()) return index.error();
  // IFLA_NET_NS_FD wants an nsfs fd (a pidfd is not accepted there); the
  // child is ours and not yet reaped, so its pid cannot be reused meanwhile.
  std::string path = "/proc/" + std::to_string(child_pid) + "/ns/net";
  unique_fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return ErrnoError() << "open " << path << " (did the jail's process exit?)";
  return Send(rt, BuildLinkSetNetns(*index, ns.get()),
              "moving " + name + " into the jail's network namespace");
}

Result<void> SetUpVethHost(Rtnetlink& rt, const std::string& jail_name, const JailNetwork& net,
                           pid_t child_pid) {
  const std::string host = HostVethName(jail_name, net);
  const std::string peer = JailEndName(jail_name, net);
  INITOS_TRY(Send(rt, BuildVethCreate(host, peer),
                  "creating veth " + host +
                      " (an interface of that name left over? "
                      "delete it or set network host-interface)"));
  auto rest = [&]() -> Result<void> {
    INITOS_TRY(MoveIntoNetns(rt, peer, child_pid));
    auto index = rt.InterfaceIndex(host);
    if (!index.ok()) return index.error();
    if (!net.host_address.empty()) {
      INITOS_TRY(Send(rt, BuildAddressAdd(*index, net.host_address),
                      "adding " + net.host_address + " to " + host));
    }
    return Send(rt, BuildLinkUp(*index), "bringing " + host + " up");
  }();
  if (!rest.ok()) TearDownHostNetwork(jail_name, net);
  return rest;
}

Result<void> SetUpMacvlanHost(Rtnetlink& rt, const std::string& jail_name, const JailNetwork& net,
                              pid_t child_pid) {
  auto parent = rt.InterfaceIndex(net.host_interface);
  if (!parent.ok()) return Wrap(parent.error(), "macvlan parent; set network host-interface");
  const std::string name = JailEndName(jail_name, net);
  INITOS_TRY(Send(rt, BuildMacvlanCreate(name, *parent),
                  "creating macvlan " + name + " on " + net.host_interface));
  auto moved = MoveIntoNetns(rt, name, child_pid);
  if (!moved.ok()) TearDownHostNetwork(jail_name, net);
  return moved;
}

// "CIDR" or "CIDR via ADDR".
Result<void> AddRoute(Rtnetlink& rt, const std::string& route, int ifindex) {
  std::string cidr = route, via;
  auto sp = route.find(" via ");
  if (sp != std::string::npos) {
    cidr = route.substr(0, sp);
    via = route.substr(sp + 5);
    via.erase(0, via.find_first_not_of(' '));
  }
  return Send(rt, BuildRouteAdd(cidr, via, ifindex), "adding route " + route);
}

}  // namespace

Result<void> SetUpHostNetwork(const std::string& jail_name, const JailNetwork& net,
                              pid_t child_pid) {
  if (net.kind != JailNetworkKind::kVeth && net.kind != JailNetworkKind::kMacvlan) return {};
  auto rt = Rtnetlink::Open();
  if (!rt.ok()) return rt.error();
  if (net.kind == JailNetworkKind::kVeth) return SetUpVethHost(*rt, jail_name, net, child_pid);
  return SetUpMacvlanHost(*rt, jail_name, net, child_pid);
}

Result<void> SetUpJailNetwork(const std::string& jail_name, const JailNetwork& net) {
  if (net.kind == JailNetworkKind::kNone) return {};  // not even loopback
  auto rt = Rtnetlink::Open();
  if (!rt.ok()) return rt.error();
  auto lo = rt->InterfaceIndex("lo");
  if (!lo.ok()) return lo.error();
  INITOS_TRY(Send(*rt, BuildLinkUp(*lo), "bringing lo up"));
  if (net.kind == JailNetworkKind::kLoopback) return {};

  auto index = rt->InterfaceIndex(JailEndName(jail_name, net));
  if (!index.ok()) return Wrap(index.error(), "the jail's end was not moved in");
  INITOS_TRY(Send(*rt, BuildLinkSetName(*index, "eth0"), "renaming the jail's end to eth0"));
  for (const auto& address : net.addresses) {
    INITOS_TRY(Send(*rt, BuildAddressAdd(*index, address), "adding " + address + " to eth0"));
  }
  INITOS_TRY(Send(*rt, BuildLinkUp(*index), "bringing eth0 up"));
  if (!net.gateway.empty()) {
    INITOS_TRY(Send(*rt, BuildRouteAdd("default", net.gateway, *index),
                    "adding the default route via " + net.gateway));
  }
  for (const auto& route : net.routes) INITOS_TRY(AddRoute(*rt, route, *index));
  return {};
}

void TearDownHostNetwork(const std::string& jail_name, const JailNetwork& net) {
  if (net.kind != JailNetworkKind::kVeth && net.kind != JailNetworkKind::kMacvlan) return;
  auto rt = Rtnetlink::Open();
  if (!rt.ok()) return;
  // The jail's end if it never left the host; deleting a veth end takes
  // its peer along.
  std::vector<std::string> names = {JailEndName(jail_name, net)};
  if (net.kind == JailNetworkKind::kVeth) names.push_back(HostVethName(jail_name, net));
  for (const auto& name : names) {
    unsigned index = if_nametoindex(name.c_str());
    if (index == 0) continue;
    auto m = BuildLinkDelete(static_cast<int>(index));
    auto r = rt->Request(m);
    if (!r.ok()) LOG(Warning) << "removing " << name << ": " << r.error().str();
  }
}

}  // namespace jail
}  // namespace initos
