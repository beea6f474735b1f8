// The initramfs a VM jail's guest boots (issue 11, docs/vm-jails.md), built
// by the supervisor in memory for each start: /init is the supervisor's own
// initos binary, /etc/initos/initos.toml a generated config (switch-root
// into the bundle attached as virtio-blk serial initos-rootfs, verified
// with the jail's trusted keys and floor, then exec the jail's chain as the
// guest's PID 1), the keys under /etc/initos/keys/, and the guest kernel's
// modules that PID 1 loads (virtio, dm-verity, EROFS, overlay, vsock) with
// their dependencies and a matching modules.dep; with a state disk also
// the host's mke2fs and its libraries (the guest formats an empty disk).
// The guest trusts nothing of the disk: it verifies the bundle again, as
// the host did.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/cpio.h"
#include "format/jail_config.h"

namespace initos {
inline namespace jail {

struct GuestSpec {
  std::string jail_name, rootfs_name;
  uint64_t min_version = 0;
  std::vector<std::string> key_paths;  // host paths of the trusted PEM keys
  std::vector<std::string> os_argv;    // the guest's PID 1 after the handover
  bool state_disk = false, vsock = true;
  std::string initos_binary;  // host path, e.g. /proc/self/fd/N (must be static)
  std::string modules_root;   // the guest kernel's module dir (with modules.dep)
};

// Where the guest config puts the keys: /etc/initos/keys/key-N.pem, N the
// index in key_paths.
std::string GuestKeyPath(size_t index);

// The modules the guest's PID 1 loads (names as in init.modules).
std::vector<std::string> GuestModules(const GuestSpec& spec);

// The guest's /etc/initos/initos.toml (pure).
std::string GuestConfigToml(const GuestSpec& spec);

// Everything above as a cpio archive (files are read when it is written).
Result<CpioArchive> GuestInitramfs(const GuestSpec& spec);

// The archive written into a memfd (uncompressed newc: nothing to unpack
// but the cpio), sealed against writing, growing, shrinking and further
// seals, close-on-exec; QEMU reads it as /proc/self/fd/N.
Result<unique_fd> GuestInitramfsMemfd(const GuestSpec& spec);

// The guest kernel's module dir: jail.vm.kernel_modules if set; else from
// the kernel's release (read from the bzImage jail.vm.kernel, or
// kDefaultVmKernel): kVmModulesDir/RELEASE if it exists, else
// /lib/modules/RELEASE. `root` prefixes every host path (tests).
inline constexpr const char* kVmModulesDir = "/usr/lib/initos/vm/modules";
Result<std::string> GuestModulesRoot(const JailConfig& jail);
Result<std::string> GuestModulesRoot(const JailConfig& jail, const std::string& root);

}  // namespace jail
}  // namespace initos
