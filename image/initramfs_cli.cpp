// `initos image initramfs`: command-line front end of image/initramfs.h.
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/options.h"
#include "image/image_cli.h"
#include "image/initramfs.h"

namespace initos {
inline namespace image {
namespace {

constexpr const char kUsage[] =
    "usage: initos image initramfs -o OUT [OPTIONS]\n"
    "\n"
    "Builds a reproducible initramfs (newc cpio) whose /init is the initos binary.\n"
    "Same inputs give byte-identical output; mtimes are 0 or $SOURCE_DATE_EPOCH.\n"
    "\n"
    "  -o, --output OUT       the image to write (replaced atomically)\n"
    "  --config FILE          installed as /etc/initos/initos.toml; its [init] modules\n"
    "                         are included like --module\n"
    "  --kver VERSION         kernel version of the modules (default: `uname -r` if\n"
    "                         /lib/modules/$(uname -r) exists)\n"
    "  --modules-root DIR     where modules.dep is (default /lib/modules/VERSION)\n"
    "  --module NAME          a kernel module to include with its dependencies\n"
    "                         (repeatable; dm-verity and dm_verity are the same)\n"
    "  --file SRC=DST         copy a host file or directory tree to DST (repeatable;\n"
    "                         permission bits are kept, parents created)\n"
    "  --with-sshd            include the SSH sidecar: this host's sshd, ssh-keygen,\n"
    "                         /bin/busybox, their shared libraries (from ldd) and\n"
    "                         /etc/initos/sidecar.files listing them\n"
    "  --with-mkfs            include mke2fs (/sbin/mke2fs, /sbin/mkfs.ext4), its\n"
    "                         shared libraries and /etc/mke2fs.conf, so PID 1 can\n"
    "                         create the state filesystem; automatic when --config\n"
    "                         sets [state] create = true\n"
    "  --with-vm KERNEL       include what VM jails need: KERNEL (a bzImage) as\n"
    "                         /usr/lib/initos/vm/vmlinuz, the guest modules with a\n"
    "                         modules.dep under /usr/lib/initos/vm/modules/RELEASE\n"
    "                         (RELEASE read from KERNEL), qemu-system-x86_64 with its\n"
    "                         libraries, TCG module and microvm/q35 firmware\n"
    "  --vm-modules-root DIR  the guest kernel's modules (default\n"
    "                         /lib/modules/RELEASE)\n"
    "  --compress KIND        gzip (default), zstd or none\n"
    "  --level N              compression level (default: gzip 9, zstd 12)\n"
    "  --initos PATH          the binary for /init (default: this initos). It must be\n"
    "                         statically linked: nothing else is in the initramfs.\n"
    "\n"
    "Always present: /dev/console (char 5,1), /dev /proc /sys /run /tmp /root.\n";

std::string RunningKernelWithModules() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  std::string dep = std::string("/lib/modules/") + u.release + "/modules.dep";
  struct stat st;
  return ::stat(dep.c_str(), &st) == 0 ? u.release : "";
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "initos: image initramfs: %s\n", message.c_str());
  return 1;
}

}  // namespace

int InitramfsMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--output", "-o", true},
                                 {"--config", "", true},
                                 {"--kver", "", true},
                                 {"--modules-root", "", true},
                                 {"--compress", "", true},
                                 {"--level", "", true},
                                 {"--initos", "", true},
                                 {"--module", "", true},
                                 {"--file", "", true},
                                 {"--with-vm", "", true},
                                 {"--vm-modules-root", "", true},
                                 {"--with-sshd"},
                                 {"--with-mkfs"}});
  if (!a.ok()) return Fail(a.error().str() + "; see `initos image initramfs --help`");
  if (a->help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a->positional().empty())
    return Fail("unknown argument '" + a->positional()[0] +
                "'; see `initos image initramfs --help`");
  InitramfsSpec spec;
  std::string out = a->One("--output").value_or("");
  std::string compress = a->One("--compress").value_or("gzip");
  std::string level = a->One("--level").value_or("");
  spec.config_path = a->One("--config").value_or("");
  spec.kver = a->One("--kver").value_or("");
  spec.modules_root = a->One("--modules-root").value_or("");
  spec.initos_path = a->One("--initos").value_or(spec.initos_path);
  spec.with_sshd = a->Has("--with-sshd");
  spec.with_mkfs = a->Has("--with-mkfs");
  spec.modules = a->All("--module");
  spec.vm_kernel = a->One("--with-vm").value_or("");
  spec.vm_modules_root = a->One("--vm-modules-root").value_or("");
  if (!spec.vm_modules_root.empty() && spec.vm_kernel.empty())
    return Fail("--vm-modules-root needs --with-vm KERNEL");
  for (const std::string& v : a->All("--file")) {
    size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
      return Fail("--file '" + v + "' must be SRC=DST");
    spec.files.emplace_back(v.substr(0, eq), v.substr(eq + 1));
  }
  if (out.empty()) return Fail("missing -o OUT; see `initos image initramfs --help`");

  auto comp = ParseCompression(compress);
  if (!comp.ok()) return Fail(comp.error().str());
  spec.compression = *comp;
  if (!level.empty()) {
    char* end = nullptr;
    long l = std::strtol(level.c_str(), &end, 10);
    if (*end != '\0' || l < 0 || l > 22) return Fail("--level must be a number from 0 to 22");
    spec.level = static_cast<int>(l);
  }

  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    char* end = nullptr;
    unsigned long long t = std::strtoull(epoch, &end, 10);
    if (*end != '\0' || t > 0xFFFFFFFFull) return Fail("SOURCE_DATE_EPOCH must be a number");
    spec.mtime = static_cast<uint32_t>(t);
  }

  if (spec.kver.empty() && !spec.modules_root.empty()) {
    // A modules root is conventionally named after its kernel version.
    std::string root = spec.modules_root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    spec.kver = root.substr(root.rfind('/') + 1);
  }
  if (spec.kver.empty()) spec.kver = RunningKernelWithModules();
  if (spec.modules_root.empty() && !spec.kver.empty()) {
    spec.modules_root = "/lib/modules/" + spec.kver;
  }

  auto r = WriteInitramfs(spec, out);
  if (!r.ok()) return Fail(r.error().str());
  return 0;
}

}  // namespace image
}  // namespace initos
