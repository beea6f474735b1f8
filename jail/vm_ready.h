// The supervisor's side of a guest's READY report (format/vm_channel.h):
// which running VM jail a connection to the ready port belongs to, decided
// by the peer CID alone (the supervisor assigned it through vhost-vsock, so
// a guest cannot claim another's), and how readiness is shown. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/vm_channel.h"

namespace initos {
inline namespace jail {

struct VmPeer {
  std::string name;  // the jail
  uint32_t cid = 0;  // its running guest's CID (0 = none)
};

// The index of the running VM jail whose guest has CID `cid`, or an error
// line saying the connection is dropped.
Result<size_t> MatchVmPeer(const std::vector<VmPeer>& running, uint32_t cid);

// The log line for a READY from jail `name`'s guest: "jail NAME ready
// (version V)", noting a different name in the line (the CID decides).
std::string VmReadyLogLine(const std::string& name, const VmReady& ready);

// `initos jail status` ("ready: yes (version 3)" / "ready: no (...)").
std::string VmReadyStatusLine(const std::optional<VmReady>& ready);

}  // namespace jail
}  // namespace initos
