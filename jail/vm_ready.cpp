#include "jail/vm_ready.h"

namespace initos {
inline namespace jail {

Result<size_t> MatchVmPeer(const std::vector<VmPeer>& running, uint32_t cid) {
  for (size_t i = 0; i < running.size(); ++i)
    if (cid != 0 && running[i].cid == cid) return i;
  return Err() << "vm channel: READY connection from CID " << cid
               << ", which is no running VM jail's guest; dropped";
}

std::string VmReadyLogLine(const std::string& name, const VmReady& ready) {
  std::string s = "jail " + name + " ready (version " + std::to_string(ready.version) + ")";
  if (ready.jail_name != name) s += " (its guest calls itself \"" + ready.jail_name + "\")";
  return s;
}

std::string VmReadyStatusLine(const std::optional<VmReady>& ready) {
  if (!ready) return "ready: no (the guest has not reported READY over vsock yet)";
  return "ready: yes (version " + std::to_string(ready->version) + ")";
}

}  // namespace jail
}  // namespace initos
