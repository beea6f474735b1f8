// The two ends of `initos upgrade push HOST BUNDLE` (the admin's machine)
// and `initos upgrade receive` (the sidecar, reached through one ssh
// connection): the protocol of format/delta.h over a pair of fds.
//
// The device names every 4 KiB data block of its local slots (SHA-256,
// unsalted) and sends the names; the host sends, for each data block of the
// new bundle, either the name of a block the device has or the block. The
// device copies a named block only after hashing it again (a slot the disk
// attacker changed cannot smuggle a block in), rebuilds the hash tree from
// the assembled data with the signed manifest's parameters, and installs
// the staged bundle exactly as `apply` does: verified whole, then copied
// into the inactive slot, verified from disk, marked next.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/delta.h"
#include "upgrade/apply.h"

namespace initos {
inline namespace upgrade {

// Device side. local_sources: block devices or files holding bundles (both
// slots); one that holds no bundle is skipped. Sends the result frame
// ('R': "ok ..." or the error line) before returning.
Result<Manifest> ReceiveBundle(int in_fd, int out_fd, const ApplyTarget& target,
                               const std::vector<std::string>& local_sources,
                               BootStateFile& record);

// Host side: sends the bundle at bundle_fd (a file) and returns what crossed
// the wire. progress: data blocks done, total.
Result<DeltaStats> PushBundle(int bundle_fd, int to_device, int from_device,
                              const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace upgrade
}  // namespace initos
