// Builds the initramfs that boots InitOS: /init is the (static) initos
// binary, plus its config, the kernel modules it must load (with their
// dependencies and a matching modules.dep), extra files, and the few
// directories and device nodes the kernel and PID 1 expect. Same inputs give
// byte-identical output.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "format/compress.h"
#include "format/cpio.h"

namespace initos {
inline namespace image {

struct InitramfsSpec {
  std::string initos_path = "/proc/self/exe";  // becomes /init; must be statically linked
  std::string config_path;                     // -> /etc/initos/initos.toml ("" = none)
  std::string kver;                            // kernel version ("" only if no modules)
  std::string modules_root;                    // host dir with modules.dep (/lib/modules/KVER)
  std::vector<std::string> modules;            // names; dependencies are added
  std::vector<std::pair<std::string, std::string>> files;  // host SRC -> archive DST
  // The SSH sidecar: sshd, ssh-keygen, busybox, their libraries and the
  // manifest the sidecar copies by (sidecar/sidecar_files.h).
  bool with_sshd = false;
  // mke2fs (as /sbin/mke2fs and /sbin/mkfs.ext4), its shared libraries and
  // /etc/mke2fs.conf, for [state] create = true. Also switched on by a
  // config_path that sets state.create = true.
  bool with_mkfs = false;
  std::string mkfs_path = "/sbin/mke2fs";      // host binary (build time)
  std::string mkfs_conf = "/etc/mke2fs.conf";  // copied when it exists
  // --with-vm: the guest kernel VM jails boot by default (as
  // kDefaultVmKernel, format/jail_config.h), the modules their guests load
  // (GuestModules, jail/vm_guest.h) with dependencies and a modules.dep
  // under kVmModulesDir/RELEASE (RELEASE read from the bzImage), QEMU
  // (/usr/bin/qemu-system-x86_64) with its libraries, TCG accelerator
  // module and the firmware it loads for microvm and q35. "" = none.
  std::string vm_kernel;
  std::string vm_modules_root;  // the guest kernel's modules ("" = /lib/modules/RELEASE)
  std::string vm_qemu = "/usr/bin/qemu-system-x86_64";  // host binary (build time)
  Compression compression = Compression::kGzip;
  int level = -1;      // compression level; -1: the format's default (see compress.h)
  uint32_t mtime = 0;  // every entry's mtime (SOURCE_DATE_EPOCH)
};

// What --with-vm adds besides the kernel, modules and QEMU's libraries:
// QEMU's TCG module and firmware, at the host paths QEMU opens them by
// (seen with strace for -M microvm and -M q35, with and without
// -nodefaults; symlinks are followed).
std::vector<std::string> VmQemuDataFiles();

// Collects everything into an archive (file contents are read when written).
Result<CpioArchive> AssembleInitramfs(const InitramfsSpec& spec);

// Assembles, compresses and writes atomically to out_path (temp file + rename).
Result<void> WriteInitramfs(const InitramfsSpec& spec, const std::string& out_path);

// True if the ELF file at path asks for a program interpreter (PT_INTERP),
// i.e. is dynamically linked and cannot run alone in an initramfs.
Result<bool> IsDynamicElf(const std::string& path);

// The [init] modules list of a config file, so the initramfs carries what
// PID 1 will be asked to load.
Result<std::vector<std::string>> ConfigModules(const std::string& config_path);

// Whether a config file sets state.create = true (PID 1 will need mkfs).
Result<bool> ConfigWantsMkfs(const std::string& config_path);

}  // namespace image
}  // namespace initos
