// PID 1's look at how the machine was booted: EFI Secure Boot and the
// systemd-stub variables (format/efi_vars.h), reported as one console line
// and in the boot status. Informational only: verification never depends
// on it. PID 1 verifies the root image in verified mode whatever Secure Boot
// says, and relaxes only when the signed config sets
// rootfs.insecure-dev-mode (docs/boot-verification.md).
#pragma once

#include <string>

#include "format/efi_vars.h"

namespace initos {
inline namespace boot {

// On an EFI boot: mounts efivarfs read-only (when `mount`, i.e. as PID 1;
// loading the efivarfs module from modules_root if needed) and decodes the
// variables. A problem on the way is part of the result ("unknown (efivarfs:
// ...)"), never an error: the boot goes on, verified.
EfiBootInfo ProbeEfiBoot(const std::string& root, bool mount, const std::string& modules_root);

// "secure boot: on (user mode), stub: systemd-stub 252, verified mode" or
// "... , DEVELOPMENT MODE (rootfs.insecure-dev-mode)".
std::string SecureBootLine(const EfiBootInfo& info, bool development);

// "verified" or "development", as in the boot status record.
std::string_view TrustModeName(bool development);

}  // namespace boot
}  // namespace initos
