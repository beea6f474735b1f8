// `initos image sb-keys`, the half that acts: runs the openssl/efitools plan
// of image/sb_keys.h and enrols the keys into an OVMF variables file by
// booting a tiny guest in setup mode (QEMU through jail/qemu_command.h,
// the host kernel, an initramfs that writes db, KEK and PK through
// efivarfs). Writing the variables from inside the firmware's own runtime
// services is what makes the file exactly what OVMF would produce.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace image {

// Runs each command of the plan (argv[0] looked up in PATH) and stops at the
// first failure. A missing tool is named with the Debian package to install.
Result<void> RunSbKeysPlan(const std::vector<std::vector<std::string>>& plan);

struct SbEnrolOptions {
  std::string dir;  // holds db.auth, KEK.auth, PK.auth; OVMF_VARS.fd goes here
  std::string vars_template = "/usr/share/OVMF/OVMF_VARS_4M.fd";  // empty = setup mode
  std::string firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
  std::string kernel;                    // "" = newest /boot/vmlinuz-*
  std::string modules_root;              // "" = /lib/modules/VERSION of the kernel's file name
  std::string busybox = "/bin/busybox";  // static: it is the guest's only program
  std::string qemu = "qemu-system-x86_64";
  std::chrono::seconds timeout{180};  // TCG: OVMF alone takes a few seconds
};

// QEMU, the OVMF files and busybox are there (checked before any key is made).
Result<void> CheckEnrolTools(const SbEnrolOptions& options);

// Writes DIR/OVMF_VARS.fd (atomically; the guest's console goes to
// DIR/enrol-console.log). Errors are one line: a missing QEMU, OVMF file or
// kernel, the variable the firmware refused, or a guest that never printed
// its marker in time.
Result<void> EnrolOvmfVars(const SbEnrolOptions& options);

// Newest /boot/vmlinuz-* in version order, or "" if there is none.
std::string NewestBootKernel();

// efivarfs.ko (or .ko.xz/.ko.zst) under modules_root; "" when the kernel
// has efivarfs built in (modules.builtin lists it); an error otherwise.
Result<std::string> FindEfivarfsModule(const std::string& modules_root);

}  // namespace image
}  // namespace initos
