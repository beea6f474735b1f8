// The switch-root stage as PID 1 runs it: find the OS init (or take
// init.os-argv), start the SSH sidecar (when [sidecar] enable = true) and a
// VM jail guest's vsock agent ([guest] vsock = true) so they outlive the
// initramfs, then plan and execute the handover (init/switch_root.h).
#pragma once

#include <string>

#include "base/result.h"
#include "boot/handover/switch_root.h"
#include "format/config.h"

namespace initos {
inline namespace boot {

struct HandoverOptions {
  std::string root = "/";             // PID 1's root; tests use a temp dir
  std::string new_root = "/sysroot";  // where the verified OS root is mounted
  std::string state_dir;              // mounted state partition ("" = none)
};

// Returns only on failure (no OS init, a mount that cannot move, exec
// failing), with one line saying what and how to fix it, so PID 1 applies
// rootfs.on-failure. A sidecar that cannot start is logged, not fatal: the
// OS still boots.
Result<void> SwitchRootToOs(const Config& config, const HandoverOptions& options,
                            const SwitchRootHooks& hooks = {});

}  // namespace boot
}  // namespace initos
