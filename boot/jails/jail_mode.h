// Jail mode (init.mode = "jails"): PID 1 keeps the machine and runs the
// [[jail]] entries under its own supervisor loop, beside the SSH sidecar.
// This file supplies what the jail library cannot know: how a jail's
// rootfs is verified (the signed-bundle path of the root image, with the
// same keys and floor, but its own dm-verity device and overlay), and where
// logs go. `initos jail run` uses the same code on a development host.
#pragma once

#include <string>

#include "base/result.h"
#include "boot/rootfs/rootfs_stage.h"
#include "format/config.h"
#include "jail/supervisor.h"

namespace initos {
inline namespace boot {

struct JailModeSetup {
  // Directory rootfs entries are allowed (rootfs.insecure-dev-mode in PID 1;
  // always for `initos jail run`).
  bool allow_directories = false;
  std::string state_dir;  // the mounted state partition, "" = none
  BootEnv env;            // device and run paths (run_dir/jails/NAME per jail)
};

JailHooks JailHooksFor(const Config& config, const JailModeSetup& setup);

// JailHooks::prepare_vm_rootfs: the jail's bundle located as for containers,
// opened read-only and verified in full (image/bundle.h VerifyBundle with
// rootfs.keys), its manifest name (rootfs-name) and the version floor
// (rootfs.min-version) checked. A directory rootfs is refused.
Result<VmRootfs> PrepareVmRootfs(const Config& config, const JailModeSetup& setup,
                                 const JailConfig& jail);

// The per-jail BootEnv: run_dir/jails/NAME, target .../root, dm names
// initos-jail-NAME(-base). Pure.
BootEnv JailBootEnv(const BootEnv& base, const std::string& jail_name);

// `initos jail run CONFIG [NAME]`.
int JailRunMain(const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
