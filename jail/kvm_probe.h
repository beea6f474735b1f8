// Does /dev/kvm really work? An open /dev/kvm is not enough: nested KVM on
// some hosts accepts every ioctl and then runs a guest so slowly (a fault
// per page) that a kernel takes minutes to decompress, or never returns
// from KVM_RUN. The probe runs a tiny VM in a child process (one vcpu, a
// few bytes of code that enter protected mode, fill 32 MiB of fresh memory
// and halt) and kills it after a timeout, so the caller (PID 1's
// supervisor) never blocks on a hung vcpu. The answer is cached for the
// process.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace initos {
inline namespace jail {

struct KvmProbe {
  bool works = false;
  std::string
      why;  // "a test VM filled 32 MiB and halted in time", "... did not halt within 2000 ms ..."
};

// Runs the probe now (no cache): a child creates the VM and runs it; the
// caller waits at most `timeout` (plus a short grace for the kill).
KvmProbe ProbeKvm(const std::string& device = "/dev/kvm",
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

// ProbeKvm() once per process; later calls return the first answer.
const KvmProbe& CachedKvmProbe();

struct AccelChoice {
  std::string accel;  // "kvm" or "tcg"
  std::string why;    // for the start log line: "auto: KVM works", "configured"
};

// The jail's accel key against the probe (pure): "auto" → kvm when it
// works, else tcg; "kvm" without a working KVM is an error naming the fix;
// "tcg" always.
Result<AccelChoice> ChooseAccel(const std::string& configured, const KvmProbe& probe);

}  // namespace jail
}  // namespace initos
