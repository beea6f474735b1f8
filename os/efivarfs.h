// efivarfs for PID 1: mount it read-only and read the few variables that
// say how the machine booted (Secure Boot, setup mode, systemd-stub). The
// decoding is pure and lives in format/efi_vars.h.
//
// Read-only on purpose: PID 1 never writes EFI variables, and a writable
// efivarfs is a way to brick some firmware (deleting or filling variables).
// The mount moves into the OS with /sys at the switch-root handover and is
// bound into the SSH sidecar, read-only in both (root there can remount it
// rw deliberately); jails see an empty tmpfs over /sys/firmware.
#pragma once

#include <string>

#include "base/result.h"
#include "format/efi_vars.h"

namespace initos {
inline namespace os {

inline constexpr char kEfiDir[] = "/sys/firmware/efi";
inline constexpr char kEfivarsDir[] = "/sys/firmware/efi/efivars";

// True when ROOT/sys/firmware/efi exists: the kernel was started by EFI
// firmware (and has EFI runtime services).
bool IsEfiBoot(const std::string& root);

// Mounts efivarfs at ROOT/sys/firmware/efi/efivars (ro, nosuid, nodev,
// noexec). efivarfs is a module in Debian's kernels: when the kernel does
// not know the filesystem yet, the module is loaded from modules_root
// (ROOT/lib/modules/KVER: the initramfs carries it when built with
// `initos image initramfs --module efivarfs`). Already mounted is fine.
// Call only when IsEfiBoot (the module refuses to load without EFI).
Result<void> MountEfivarfs(const std::string& root, const std::string& modules_root);

// Reads every variable of EfiBootVarFileNames() from ROOT's efivars
// directory, at most a few KiB each, without following symlinks. An empty
// directory (efivarfs not mounted) sets efivarfs_problem; a failed mount is
// the caller's to pass in the same field.
EfiVarsInput ReadEfiVars(const std::string& root);

}  // namespace os
}  // namespace initos
