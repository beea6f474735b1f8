// The program systemd runs at the very end of poweroff/reboot: when
// /run/initramfs/shutdown exists, systemd-shutdown pivots into /run/initramfs
// (the old OS root at /oldroot) and execs /shutdown VERB as PID 1. PID 1
// copies the initos binary there before the switch-root handover (see
// PrepareShutdownRoot), and the CLI runs InitramfsShutdownMain when argv[0]
// is "shutdown".
//
// It finishes what systemd cannot while it runs from the verified root:
// stop what is left (the '@' SSH sidecar survives systemd's killing spree),
// unmount the overlay, the EROFS and the state partition, remove the
// dm-verity and dm-linear devices, sync, reboot(2) with the verb.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "os/mounts.h"

namespace initos {
inline namespace boot {

// systemd passes the verb as argv[1] ("poweroff", "reboot", "halt",
// "kexec"): format/shutdown_kind.h parses it.

// Mount points to unmount, children before parents, leaving "/" and the API
// filesystems in `keep` (exact matches) mounted.
std::vector<std::string> TeardownMounts(const std::vector<MountInfoEntry>& mounts,
                                        const std::vector<std::string>& keep);

// Where the shutdown program lives under PID 1's root.
inline constexpr char kShutdownRootDir[] = "/run/initramfs";

// Copies `initos_binary` (the running /init) to ROOT/run/initramfs/shutdown
// (0755). /run moves into the OS at switch-root, so systemd finds it there.
Result<void> PrepareShutdownRoot(const std::string& root, const std::string& initos_binary);

struct InitramfsShutdownOptions {
  int stop_timeout_ms = 5000;  // SIGTERM -> SIGKILL grace for what is left
  bool call_reboot = true;
};

// `shutdown VERB [systemd options...]` as PID 1 in /run/initramfs.
int InitramfsShutdownMain(const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
