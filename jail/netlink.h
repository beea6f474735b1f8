// rtnetlink messages for jail networking, built and sent without the `ip`
// binary. libmnl is what we would use, but Debian 12's libmnl-dev ships no
// static archive and initos is one static binary; these few message kinds
// are built here in libmnl's style (header, attributes, nests) and the
// builders are pure so unit tests check their bytes.
#pragma once

#include <linux/netlink.h>
#include <stdint.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace jail {

// One netlink request (header + payload + attributes), NLM_F_REQUEST|ACK set.
class NetlinkMessage {
 public:
  NetlinkMessage(uint16_t type, uint16_t flags);
  template <typename T>
  T* PutExtraHeader();  // the ifinfomsg/ifaddrmsg/rtmsg after the nlmsghdr
  // Raw bytes padded to NLA_ALIGN (VETH_INFO_PEER's nested ifinfomsg).
  void PutPayload(const void* data, size_t len);
  void PutAttr(uint16_t type, const void* data, size_t len);
  void PutU32(uint16_t type, uint32_t v);
  void PutString(uint16_t type, const std::string& s);  // NUL-terminated
  size_t NestStart(uint16_t type);
  void NestEnd(size_t start);
  const std::vector<uint8_t>& bytes() const;
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }

 private:
  // Appends len zero bytes plus padding to the 4-byte alignment; returns the
  // offset of the first. Pointers into buf_ die on the next append: fill
  // an extra header before adding attributes.
  size_t Grow(size_t len);
  std::vector<uint8_t> buf_;
};

template <typename T>
T* NetlinkMessage::PutExtraHeader() {
  size_t at = Grow(sizeof(T));
  return reinterpret_cast<T*>(buf_.data() + at);
}

// Builders (pure). Interface names ≤ 15 chars.
NetlinkMessage BuildVethCreate(const std::string& host_name, const std::string& peer_name);
NetlinkMessage BuildMacvlanCreate(const std::string& name, int parent_index);
NetlinkMessage BuildLinkSetNetns(int ifindex, int netns_fd);
NetlinkMessage BuildLinkSetName(int ifindex, const std::string& name);
NetlinkMessage BuildLinkUp(int ifindex);
NetlinkMessage BuildLinkDelete(int ifindex);
Result<NetlinkMessage> BuildAddressAdd(int ifindex, const std::string& cidr);
Result<NetlinkMessage> BuildRouteAdd(const std::string& cidr /* "default" ok */,
                                     const std::string& via /* "" = on-link */, int ifindex);

// A NETLINK_ROUTE socket in the caller's current network namespace.
class Rtnetlink {
 public:
  static Result<Rtnetlink> Open();
  // Sends and waits for the ACK; the kernel's error comes back as the errno.
  Result<void> Request(NetlinkMessage& message);
  Result<int> InterfaceIndex(const std::string& name);  // if_nametoindex in this netns
 private:
  unique_fd fd_;
  uint32_t seq_ = 0;
};

}  // namespace jail
}  // namespace initos
