// What every InitOS initramfs holds besides /init and its config, shared by
// `initos image initramfs` (image/initramfs.h) and the initramfs a VM jail's
// supervisor builds for its guest in memory (jail/vm_guest.h): the
// directories and the console node PID 1 needs before anything is mounted,
// and kernel modules with their dependencies and a matching modules.dep.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "format/cpio.h"

namespace initos {
inline namespace os {

// /dev /proc /sys /run /tmp (1777) /root (0700) /etc/initos, and
// /dev/console (the kernel opens it for PID 1's stdio before devtmpfs).
Result<void> AddInitramfsSkeleton(CpioArchive& ar);

// The modules `names` from modules_root (a directory with modules.dep, e.g.
// /lib/modules/KVER) with every dependency, under lib/modules/KVER, plus a
// modules.dep listing only those and modules.builtin when modules_root has
// one. `unknown_hint` ends the message for a module that does not exist.
// kver "" means the release the modules were built for (the vermagic of the
// first one loaded: what `uname -r` says in the kernel that loads them).
// `parent` replaces lib/modules (a VM guest kernel's modules ship under
// usr/lib/initos/vm/modules).
Result<void> AddInitramfsModules(CpioArchive& ar, const std::string& modules_root,
                                 const std::string& kver, const std::vector<std::string>& names,
                                 std::string_view unknown_hint,
                                 std::string_view parent = "lib/modules");

// A host program (symlinks followed) at `dst` with every shared library it
// loads at its own path (os/elf_libraries.h). Paths already in the archive
// are kept, so programs sharing libraries add each once.
Result<void> AddInitramfsProgram(CpioArchive& ar, const std::string& src, const std::string& dst);

// mke2fs as /sbin/mke2fs (and /sbin/mkfs.ext4), with every shared library
// it loads at its own path (os/elf_libraries.h: no ldd needed) and `conf`
// as /etc/mke2fs.conf when readable, so PID 1 can create an ext4 state
// filesystem ([state] create = true). Files already in the archive (a
// library the sidecar also needs) are kept.
Result<void> AddInitramfsMkfs(CpioArchive& ar, const std::string& mke2fs, const std::string& conf);

// The kernel release a module was built for: the first word of its
// "vermagic=" .modinfo string (e.g. "6.1.0-57-cloud-amd64"); an error when
// `ko` (a .ko file's contents) has none.
Result<std::string> ModuleKernelRelease(std::string_view ko);

}  // namespace os
}  // namespace initos
