// rtnetlink requests in libmnl's shape: nlmsghdr, the family header, then
// attributes (struct rtattr: len, type, payload padded to 4 bytes), nests
// being attributes whose payload is more attributes.
#include "jail/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>  // before the linux/ headers: libc-compat skips their copies
#include <sys/socket.h>
#include <unistd.h>

namespace initos {
inline namespace jail {

NetlinkMessage::NetlinkMessage(uint16_t type, uint16_t flags) {
  buf_.reserve(512);
  Grow(sizeof(nlmsghdr));
  header()->nlmsg_type = type;
  header()->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
}

size_t NetlinkMessage::Grow(size_t len) {
  size_t at = buf_.size();
  buf_.resize(at + NLMSG_ALIGN(len), 0);
  header()->nlmsg_len = static_cast<uint32_t>(buf_.size());
  return at;
}

void NetlinkMessage::PutPayload(const void* data, size_t len) {
  size_t at = Grow(len);
  if (len != 0) std::memcpy(buf_.data() + at, data, len);
}

void NetlinkMessage::PutAttr(uint16_t type, const void* data, size_t len) {
  size_t at = Grow(RTA_LENGTH(len));
  auto* rta = reinterpret_cast<rtattr*>(buf_.data() + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));  // unpadded, as the kernel wants
  if (len != 0) std::memcpy(RTA_DATA(rta), data, len);
}

void NetlinkMessage::PutU32(uint16_t type, uint32_t v) {
  PutAttr(type, &v, sizeof v);
}

void NetlinkMessage::PutString(uint16_t type, const std::string& s) {
  PutAttr(type, s.c_str(), s.size() + 1);
}

size_t NetlinkMessage::NestStart(uint16_t type) {
  size_t at = buf_.size();
  PutAttr(type, nullptr, 0);
  return at;
}

void NetlinkMessage::NestEnd(size_t start) {
  auto* rta = reinterpret_cast<rtattr*>(buf_.data() + start);
  rta->rta_len = static_cast<uint16_t>(buf_.size() - start);
}

const std::vector<uint8_t>& NetlinkMessage::bytes() const {
  return buf_;
}

// ---- builders ---------------------------------------------------------------

namespace {

constexpr uint16_t kCreate = NLM_F_CREATE | NLM_F_EXCL;

NetlinkMessage LinkMessage(uint16_t type, uint16_t flags, int ifindex) {
  NetlinkMessage m(type, flags);
  auto* ifi = m.PutExtraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return m;
}

void PutLinkKind(NetlinkMessage& m, const char* kind) {
  m.PutString(IFLA_INFO_KIND, kind);
}

struct Cidr {
  int family = AF_INET;
  uint8_t addr[16] = {};
  int prefix = 0;
  size_t len() const { return family == AF_INET ? 4 : 16; }
};

Result<Cidr> ParseAddress(const std::string& s) {
  Cidr c;
  if (inet_pton(AF_INET, s.c_str(), c.addr) == 1) {
    c.family = AF_INET;
    c.prefix = 32;
  } else if (inet_pton(AF_INET6, s.c_str(), c.addr) == 1) {
    c.family = AF_INET6;
    c.prefix = 128;
  } else {
    return Err() << "\"" << s << "\" is not an IPv4 or IPv6 address; write e.g. 10.0.0.2";
  }
  return c;
}

Result<Cidr> ParseCidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) {
    return Err() << "\"" << s << "\" has no prefix length; write ADDRESS/PREFIX, e.g. 10.0.0.2/24";
  }
  auto c = ParseAddress(s.substr(0, slash));
  if (!c.ok()) return c.error();
  std::string p = s.substr(slash + 1);
  int max = c->family == AF_INET ? 32 : 128;
  if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > max) {
    return Err() << "\"" << s << "\": prefix length \"" << p << "\" is not 0.." << max
                 << "; fix the CIDR";
  }
  c->prefix = std::stoi(p);
  return c;
}

bool HostBitsZero(const Cidr& c) {
  for (size_t bit = static_cast<size_t>(c.prefix); bit < c.len() * 8; ++bit) {
    if (c.addr[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

}  // namespace

NetlinkMessage BuildVethCreate(const std::string& host_name, const std::string& peer_name) {
  NetlinkMessage m = LinkMessage(RTM_NEWLINK, kCreate, 0);
  m.PutString(IFLA_IFNAME, host_name);
  size_t info = m.NestStart(IFLA_LINKINFO);
  PutLinkKind(m, "veth");
  size_t data = m.NestStart(IFLA_INFO_DATA);
  size_t peer = m.NestStart(VETH_INFO_PEER);
  ifinfomsg peer_ifi{};
  peer_ifi.ifi_family = AF_UNSPEC;
  m.PutPayload(&peer_ifi, sizeof peer_ifi);
  m.PutString(IFLA_IFNAME, peer_name);
  m.NestEnd(peer);
  m.NestEnd(data);
  m.NestEnd(info);
  return m;
}

NetlinkMessage BuildMacvlanCreate(const std::string& name, int parent_index) {
  NetlinkMessage m = LinkMessage(RTM_NEWLINK, kCreate, 0);
  m.PutString(IFLA_IFNAME, name);
  m.PutU32(IFLA_LINK, static_cast<uint32_t>(parent_index));
  size_t info = m.NestStart(IFLA_LINKINFO);
  PutLinkKind(m, "macvlan");
  size_t data = m.NestStart(IFLA_INFO_DATA);
  m.PutU32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);  // jails on one NIC see each other
  m.NestEnd(data);
  m.NestEnd(info);
  return m;
}

NetlinkMessage BuildLinkSetNetns(int ifindex, int netns_fd) {
  NetlinkMessage m = LinkMessage(RTM_NEWLINK, 0, ifindex);
  m.PutU32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  return m;
}

NetlinkMessage BuildLinkSetName(int ifindex, const std::string& name) {
  NetlinkMessage m = LinkMessage(RTM_NEWLINK, 0, ifindex);
  m.PutString(IFLA_IFNAME, name);
  return m;
}

NetlinkMessage BuildLinkUp(int ifindex) {
  NetlinkMessage m(RTM_NEWLINK, 0);
  auto* ifi = m.PutExtraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;  // only this flag changes
  return m;
}

NetlinkMessage BuildLinkDelete(int ifindex) {
  return LinkMessage(RTM_DELLINK, 0, ifindex);
}

Result<NetlinkMessage> BuildAddressAdd(int ifindex, const std::string& cidr) {
  auto c = ParseCidr(cidr);
  if (!c.ok()) return c.error();
  NetlinkMessage m(RTM_NEWADDR, kCreate);
  auto* ifa = m.PutExtraHeader<ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(c->family);
  ifa->ifa_prefixlen = static_cast<uint8_t>(c->prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  // IPv6: usable at once, not tentative for a second of duplicate address
  // detection (a jail's app binding it at start would get EADDRNOTAVAIL);
  // the addresses are configured, not autoconfigured, so a clash is a
  // config error anyway.
  if (c->family == AF_INET6) ifa->ifa_flags = IFA_F_NODAD;
  // As `ip addr add` sends it: local and address equal (no point-to-point peer).
  m.PutAttr(IFA_LOCAL, c->addr, c->len());
  m.PutAttr(IFA_ADDRESS, c->addr, c->len());
  return m;
}

Result<NetlinkMessage> BuildRouteAdd(const std::string& cidr, const std::string& via, int ifindex) {
  Cidr dst;
  Cidr gw;
  if (!via.empty()) {
    auto g = ParseAddress(via);
    if (!g.ok()) return Wrap(g.error(), "route " + cidr + " via");
    gw = *g;
  }
  if (cidr == "default") {
    dst.family = via.empty() ? AF_INET : gw.family;
    dst.prefix = 0;
  } else {
    auto d = ParseCidr(cidr);
    if (!d.ok()) return d.error();
    dst = *d;
    if (!HostBitsZero(dst)) {
      return Err() << "route \"" << cidr
                   << "\" has host bits set; write the network address (e.g. 10.1.0.0/16)";
    }
  }
  if (!via.empty() && gw.family != dst.family) {
    return Err() << "route " << cidr << " via " << via << " mixes IPv4 and IPv6; use one family";
  }
  NetlinkMessage m(RTM_NEWROUTE, kCreate);
  auto* rtm = m.PutExtraHeader<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(dst.family);
  rtm->rtm_dst_len = static_cast<uint8_t>(dst.prefix);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  // A gateway is reached through the link; without one the destination is
  // on the link itself.
  rtm->rtm_scope = via.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  if (dst.prefix > 0) m.PutAttr(RTA_DST, dst.addr, dst.len());
  if (!via.empty()) m.PutAttr(RTA_GATEWAY, gw.addr, gw.len());
  m.PutU32(RTA_OIF, static_cast<uint32_t>(ifindex));
  return m;
}

// ---- socket -----------------------------------------------------------------

Result<Rtnetlink> Rtnetlink::Open() {
  Rtnetlink r;
  r.fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!r.fd_) return ErrnoError() << "socket NETLINK_ROUTE";
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(r.fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return ErrnoError() << "bind NETLINK_ROUTE";
  }
  // The kernel's own words for an error (extended ACK), without echoing
  // the whole request back.
  int one = 1;
  ::setsockopt(r.fd_.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(r.fd_.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return r;
}

namespace {

// NLMSGERR_ATTR_MSG from an extended ACK, "" when there is none.
std::string ExtAckMessage(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
  if (offset >= h->nlmsg_len) return "";
  int len = static_cast<int>(h->nlmsg_len - offset);
  const auto* rta = reinterpret_cast<const rtattr*>(reinterpret_cast<const uint8_t*>(h) + offset);
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    if (rta->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(rta) > 1) {
      return std::string(static_cast<const char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta) - 1);
    }
  }
  return "";
}

}  // namespace

Result<void> Rtnetlink::Request(NetlinkMessage& message) {
  nlmsghdr* h = message.header();
  h->nlmsg_seq = ++seq_;
  h->nlmsg_pid = 0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const auto& bytes = message.bytes();
  ssize_t sent = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0,
                          reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  if (sent != static_cast<ssize_t>(bytes.size())) return ErrnoError() << "rtnetlink send";
  alignas(nlmsghdr) uint8_t buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError() << "rtnetlink recv";
    }
    int len = static_cast<int>(n);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(r, len); r = NLMSG_NEXT(r, len)) {
      if (r->nlmsg_seq != seq_) continue;  // a stale answer to an earlier request
      if (r->nlmsg_type != NLMSG_ERROR) continue;
      if (r->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        return Err() << "rtnetlink: truncated NLMSG_ERROR";
      }
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(r));
      if (err->error == 0) return {};
      std::string ext = ExtAckMessage(r);
      return ErrnoErrorCode(-err->error)
             << "rtnetlink request type " << h->nlmsg_type << (ext.empty() ? "" : " (") << ext
             << (ext.empty() ? "" : ")");
    }
  }
}

Result<int> Rtnetlink::InterfaceIndex(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return ErrnoError() << "network interface " << name;
  return static_cast<int>(idx);
}

}  // namespace jail
}  // namespace initos
