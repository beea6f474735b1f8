// The builders' bytes, parsed back with the kernel's own macros.
#include "jail/netlink.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>  // before the linux/ headers: libc-compat skips their copies

#include <map>

namespace initos {
namespace {

const nlmsghdr* Header(const NetlinkMessage& m) {
  return reinterpret_cast<const nlmsghdr*>(m.bytes().data());
}

// Attributes of one level: type → (payload, payload length); checks every
// rtattr is 4-byte aligned and the level is exactly consumed.
struct Attr {
  const void* data;
  size_t len;
  const rtattr* rta;
};
std::multimap<uint16_t, Attr> Attrs(const void* start, int len) {
  std::multimap<uint16_t, Attr> out;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(start) % RTA_ALIGNTO, 0u);
  auto* rta = static_cast<const rtattr*>(start);
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(rta) % RTA_ALIGNTO, 0u);
    out.emplace(rta->rta_type, Attr{RTA_DATA(rta), RTA_PAYLOAD(rta), rta});
  }
  EXPECT_EQ(len, 0) << "trailing bytes after the attributes";
  return out;
}

template <typename T>
std::multimap<uint16_t, Attr> TopAttrs(const NetlinkMessage& m, const T** extra) {
  const nlmsghdr* h = Header(m);
  EXPECT_EQ(h->nlmsg_len, m.bytes().size());
  EXPECT_EQ(m.bytes().size() % NLMSG_ALIGNTO, 0u);
  *extra = static_cast<const T*>(NLMSG_DATA(h));
  const uint8_t* attrs = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(T));
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(T))));
  return Attrs(attrs, len);
}

std::string Str(const Attr& a) {
  EXPECT_GT(a.len, 0u);
  EXPECT_EQ(static_cast<const char*>(a.data)[a.len - 1], '\0') << "not NUL-terminated";
  return std::string(static_cast<const char*>(a.data));
}
uint32_t U32(const Attr& a) {
  EXPECT_EQ(a.len, 4u);
  uint32_t v;
  memcpy(&v, a.data, 4);
  return v;
}
std::multimap<uint16_t, Attr> Nested(const Attr& a) {
  return Attrs(a.data, static_cast<int>(a.len));
}
const Attr& One(const std::multimap<uint16_t, Attr>& m, uint16_t type) {
  EXPECT_EQ(m.count(type), 1u) << "attribute " << type;
  static Attr none{nullptr, 0, nullptr};
  auto it = m.find(type);
  return it == m.end() ? none : it->second;
}

TEST(Netlink, HeaderFlagsAndPadding) {
  NetlinkMessage m(RTM_NEWLINK, NLM_F_CREATE);
  auto* ifi = m.PutExtraHeader<ifinfomsg>();
  ifi->ifi_index = 3;
  m.PutString(IFLA_IFNAME, "abcde");  // 4 + 6 = 10 bytes, padded to 12
  m.PutU32(IFLA_MTU, 1500);
  const nlmsghdr* h = Header(m);
  EXPECT_EQ(h->nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
  EXPECT_EQ(m.bytes().size(), NLMSG_HDRLEN + sizeof(ifinfomsg) + 12 + 8);
  const ifinfomsg* got;
  auto attrs = TopAttrs(m, &got);
  EXPECT_EQ(got->ifi_index, 3);
  EXPECT_EQ(One(attrs, IFLA_IFNAME).rta->rta_len, 10u);  // unpadded length
  EXPECT_EQ(Str(One(attrs, IFLA_IFNAME)), "abcde");
  EXPECT_EQ(U32(One(attrs, IFLA_MTU)), 1500u);
  // Padding bytes are zero.
  EXPECT_EQ(m.bytes()[NLMSG_HDRLEN + sizeof(ifinfomsg) + 10], 0);
  EXPECT_EQ(m.bytes()[NLMSG_HDRLEN + sizeof(ifinfomsg) + 11], 0);
}

TEST(Netlink, VethPairWithNestedPeer) {
  NetlinkMessage m = BuildVethCreate("ve-web", "vp-1234abcd");
  const nlmsghdr* h = Header(m);
  EXPECT_EQ(h->nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  const ifinfomsg* ifi;
  auto top = TopAttrs(m, &ifi);
  EXPECT_EQ(ifi->ifi_family, AF_UNSPEC);
  EXPECT_EQ(ifi->ifi_index, 0);
  EXPECT_EQ(Str(One(top, IFLA_IFNAME)), "ve-web");
  auto info = Nested(One(top, IFLA_LINKINFO));
  EXPECT_EQ(Str(One(info, IFLA_INFO_KIND)), "veth");
  auto data = Nested(One(info, IFLA_INFO_DATA));
  const Attr& peer = One(data, VETH_INFO_PEER);
  ASSERT_GE(peer.len, sizeof(ifinfomsg));
  const auto* peer_ifi = static_cast<const ifinfomsg*>(peer.data);
  EXPECT_EQ(peer_ifi->ifi_family, AF_UNSPEC);
  EXPECT_EQ(peer_ifi->ifi_index, 0);
  auto peer_attrs = Attrs(static_cast<const uint8_t*>(peer.data) + sizeof(ifinfomsg),
                          static_cast<int>(peer.len - sizeof(ifinfomsg)));
  EXPECT_EQ(Str(One(peer_attrs, IFLA_IFNAME)), "vp-1234abcd");
  // The outer nest ends exactly at the end of the message.
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(One(top, IFLA_LINKINFO).rta) +
                One(top, IFLA_LINKINFO).rta->rta_len,
            m.bytes().data() + m.bytes().size());
}

TEST(Netlink, MacvlanBridgeOnParent) {
  NetlinkMessage m = BuildMacvlanCreate("mv-x", 7);
  const ifinfomsg* ifi;
  auto top = TopAttrs(m, &ifi);
  EXPECT_EQ(Str(One(top, IFLA_IFNAME)), "mv-x");
  EXPECT_EQ(U32(One(top, IFLA_LINK)), 7u);
  auto info = Nested(One(top, IFLA_LINKINFO));
  EXPECT_EQ(Str(One(info, IFLA_INFO_KIND)), "macvlan");
  auto data = Nested(One(info, IFLA_INFO_DATA));
  EXPECT_EQ(U32(One(data, IFLA_MACVLAN_MODE)), static_cast<uint32_t>(MACVLAN_MODE_BRIDGE));
}

TEST(Netlink, LinkChanges) {
  const ifinfomsg* ifi;
  NetlinkMessage ns = BuildLinkSetNetns(5, 42);
  auto a = TopAttrs(ns, &ifi);
  EXPECT_EQ(Header(ns)->nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(ifi->ifi_index, 5);
  EXPECT_EQ(U32(One(a, IFLA_NET_NS_FD)), 42u);
  EXPECT_EQ(a.size(), 1u);

  NetlinkMessage name = BuildLinkSetName(5, "eth0");
  a = TopAttrs(name, &ifi);
  EXPECT_EQ(ifi->ifi_index, 5);
  EXPECT_EQ(Str(One(a, IFLA_IFNAME)), "eth0");
  EXPECT_EQ(Header(name)->nlmsg_flags & NLM_F_CREATE, 0);

  NetlinkMessage up = BuildLinkUp(9);
  a = TopAttrs(up, &ifi);
  EXPECT_EQ(ifi->ifi_index, 9);
  EXPECT_EQ(ifi->ifi_flags, static_cast<unsigned>(IFF_UP));
  EXPECT_EQ(ifi->ifi_change, static_cast<unsigned>(IFF_UP));
  EXPECT_TRUE(a.empty());

  NetlinkMessage del = BuildLinkDelete(9);
  a = TopAttrs(del, &ifi);
  EXPECT_EQ(Header(del)->nlmsg_type, RTM_DELLINK);
  EXPECT_EQ(ifi->ifi_index, 9);
}

TEST(Netlink, AddressesV4AndV6) {
  auto m = BuildAddressAdd(4, "10.99.0.2/30");
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(Header(*m)->nlmsg_type, RTM_NEWADDR);
  const ifaddrmsg* ifa;
  auto a = TopAttrs(*m, &ifa);
  EXPECT_EQ(ifa->ifa_family, AF_INET);
  EXPECT_EQ(ifa->ifa_prefixlen, 30);
  EXPECT_EQ(ifa->ifa_index, 4u);
  EXPECT_EQ(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(ifa->ifa_flags, 0);
  in_addr want;
  inet_pton(AF_INET, "10.99.0.2", &want);
  for (uint16_t t : {IFA_LOCAL, IFA_ADDRESS}) {
    ASSERT_EQ(One(a, t).len, 4u);
    EXPECT_EQ(memcmp(One(a, t).data, &want, 4), 0);
  }

  auto v6 = BuildAddressAdd(4, "fd00::2/64");
  ASSERT_TRUE(v6.ok()) << v6.error().str();
  a = TopAttrs(*v6, &ifa);
  EXPECT_EQ(ifa->ifa_family, AF_INET6);
  EXPECT_EQ(ifa->ifa_prefixlen, 64);
  EXPECT_EQ(ifa->ifa_flags, IFA_F_NODAD);
  in6_addr want6;
  inet_pton(AF_INET6, "fd00::2", &want6);
  ASSERT_EQ(One(a, IFA_LOCAL).len, 16u);
  EXPECT_EQ(memcmp(One(a, IFA_LOCAL).data, &want6, 16), 0);
  EXPECT_EQ(memcmp(One(a, IFA_ADDRESS).data, &want6, 16), 0);
}

TEST(Netlink, BadAddresses) {
  for (const char* bad : {"10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "10.0.0/24", "fd00::1/129",
                          "10.0.0.1/2x", "host/24"}) {
    auto m = BuildAddressAdd(1, bad);
    ASSERT_FALSE(m.ok()) << bad;
    // The message names the bad part (the whole CIDR or its address).
    std::string want = std::string(bad).substr(0, std::string(bad).find('/'));
    EXPECT_NE(m.error().str().find(want), std::string::npos) << m.error().str();
  }
}

TEST(Netlink, Routes) {
  auto def = BuildRouteAdd("default", "10.99.0.1", 3);
  ASSERT_TRUE(def.ok()) << def.error().str();
  EXPECT_EQ(Header(*def)->nlmsg_type, RTM_NEWROUTE);
  const rtmsg* rtm;
  auto a = TopAttrs(*def, &rtm);
  EXPECT_EQ(rtm->rtm_family, AF_INET);
  EXPECT_EQ(rtm->rtm_dst_len, 0);
  EXPECT_EQ(rtm->rtm_table, RT_TABLE_MAIN);
  EXPECT_EQ(rtm->rtm_protocol, RTPROT_BOOT);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(rtm->rtm_type, RTN_UNICAST);
  EXPECT_EQ(a.count(RTA_DST), 0u);
  in_addr gw;
  inet_pton(AF_INET, "10.99.0.1", &gw);
  EXPECT_EQ(memcmp(One(a, RTA_GATEWAY).data, &gw, 4), 0);
  EXPECT_EQ(U32(One(a, RTA_OIF)), 3u);

  auto onlink = BuildRouteAdd("192.168.5.0/24", "", 3);
  ASSERT_TRUE(onlink.ok()) << onlink.error().str();
  a = TopAttrs(*onlink, &rtm);
  EXPECT_EQ(rtm->rtm_dst_len, 24);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_LINK);
  EXPECT_EQ(a.count(RTA_GATEWAY), 0u);
  in_addr dst;
  inet_pton(AF_INET, "192.168.5.0", &dst);
  EXPECT_EQ(memcmp(One(a, RTA_DST).data, &dst, 4), 0);

  auto v6 = BuildRouteAdd("default", "fd00::1", 2);
  ASSERT_TRUE(v6.ok()) << v6.error().str();
  a = TopAttrs(*v6, &rtm);
  EXPECT_EQ(rtm->rtm_family, AF_INET6);
  EXPECT_EQ(One(a, RTA_GATEWAY).len, 16u);
}

TEST(Netlink, BadRoutes) {
  EXPECT_FALSE(BuildRouteAdd("10.1.2.3/16", "", 1).ok());         // host bits set
  EXPECT_FALSE(BuildRouteAdd("10.1.0.0/16", "fd00::1", 1).ok());  // mixed families
  EXPECT_FALSE(BuildRouteAdd("default", "gateway", 1).ok());
  EXPECT_FALSE(BuildRouteAdd("nowhere", "", 1).ok());
}

}  // namespace
}  // namespace initos
