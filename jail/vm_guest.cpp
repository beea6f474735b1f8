#include "jail/vm_guest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/file.h"
#include "format/bzimage.h"
#include "format/vm_channel.h"
#include "os/initramfs_tree.h"

namespace initos {
inline namespace jail {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string TomlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + TomlString(items[i]);
  return out + "]";
}

constexpr const char* kHostMke2fs = "/sbin/mke2fs";

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string GuestKeyPath(size_t index) {
  return "/etc/initos/keys/key-" + std::to_string(index) + ".pem";
}

std::vector<std::string> GuestModules(const GuestSpec& spec) {
  // Debian's cloud kernel builds all of these as modules; a kernel with
  // them built in lists them in modules.builtin, which resolution accepts.
  // virtio_pci for q35, virtio_mmio for microvm. pvpanic first: without
  // its driver a guest panic (its PID 1 died) ends QEMU with status 0 like
  // a poweroff, and the restart policy would never see the crash. button:
  // the ACPI power button, which QMP system_powerdown (the jail's stop)
  // presses; without it the guest never hears the stop and is killed at
  // the stop timeout. evdev: the guest's power button watcher reads it
  // (boot/guest/guest_power_key.h).
  std::vector<std::string> m = {"pvpanic-pci", "pvpanic-mmio", "virtio_pci", "virtio_mmio",
                                "virtio_blk",  "dm-mod",       "dm-verity",  "erofs",
                                "overlay",     "button",       "evdev"};
  if (spec.state_disk) m.push_back("ext4");
  if (spec.vsock) {
    m.push_back("vsock");
    m.push_back("vmw_vsock_virtio_transport");
  }
  return m;
}

std::string GuestConfigToml(const GuestSpec& spec) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < spec.key_paths.size(); ++i) keys.push_back(GuestKeyPath(i));
  // TOML integers are signed 64-bit.
  uint64_t floor = std::min<uint64_t>(spec.min_version, INT64_MAX);
  std::string t = "# Written by the InitOS VM jail supervisor for jail " + spec.jail_name +
                  " (jail/vm_guest.h):\n"
                  "# verify the bundle on the virtio-blk disk with serial " +
                  std::string(kVmRootfsSerial) +
                  ", switch into it and exec the jail's command.\n"
                  "[init]\n"
                  "mode = \"switch-root\"\n"
                  "os-argv = " +
                  TomlList(spec.os_argv) +
                  "\n"
                  "modules = " +
                  TomlList(GuestModules(spec)) +
                  "\n"
                  // The console is the jail's log: a failure is read there, not waited on.
                  "failure-delay-s = 1\n"
                  "\n"
                  "[rootfs]\n"
                  "image = " +
                  TomlString(std::string("SERIAL=") + kVmRootfsSerial) +
                  "\n"
                  "name = " +
                  TomlString(spec.rootfs_name) +
                  "\n"
                  "keys = " +
                  TomlList(keys) +
                  "\n"
                  "min-version = " +
                  std::to_string(floor) +
                  "\n"
                  // Powered off, QEMU exits: the supervisor's restart policy decides.
                  "on-failure = \"poweroff\"\n";
  if (spec.state_disk)
    t += "\n[state]\ndevice = " + TomlString(std::string("SERIAL=") + kVmStateSerial) +
         "\ncreate = true\n";
  t += "\n[guest]\njail = " + TomlString(spec.jail_name) +
       "\nvsock = " + (spec.vsock ? "true" : "false") + "\n";
  return t;
}

Result<CpioArchive> GuestInitramfs(const GuestSpec& spec) {
  if (spec.initos_binary.empty())
    return Err() << "VM guest initramfs of jail " << spec.jail_name << ": no initos binary";
  if (spec.modules_root.empty())
    return Err() << "VM guest initramfs of jail " << spec.jail_name
                 << ": no kernel module directory (set the jail's vm kernel-modules)";
  CpioArchive ar;
  INITOS_TRY(AddInitramfsSkeleton(ar));
  INITOS_TRY(ar.AddFileFromPath("init", spec.initos_binary, 0755));
  INITOS_TRY(ar.AddFile("etc/initos/initos.toml", GuestConfigToml(spec), 0644));
  for (size_t i = 0; i < spec.key_paths.size(); ++i) {
    // Read now: the key the host verified with is the one the guest gets.
    auto pem = ReadFileToString(spec.key_paths[i]);
    if (!pem.ok()) return Wrap(pem.error(), "VM guest key");
    INITOS_TRY(ar.AddFile(GuestKeyPath(i), std::move(*pem), 0644));
  }
  // [state] create: PID 1 in the guest formats an empty state disk with
  // the host's mke2fs. A host without one (a supervisor in an initramfs
  // built without it) leaves it out: a disk formatted before still mounts,
  // and an empty one fails the guest's boot naming the missing mkfs.
  if (spec.state_disk && ::access(kHostMke2fs, X_OK) == 0) {
    auto r = AddInitramfsMkfs(ar, kHostMke2fs, "/etc/mke2fs.conf");
    if (!r.ok()) return Wrap(r.error(), "VM guest mke2fs");
  }
  auto m = AddInitramfsModules(ar, spec.modules_root, "", GuestModules(spec),
                               "the guest kernel needs it: use a kernel whose modules include "
                               "NAME, or set the jail's vm kernel-modules to its module dir");
  if (!m.ok()) return Wrap(m.error(), "VM guest modules");
  return ar;
}

Result<unique_fd> GuestInitramfsMemfd(const GuestSpec& spec) {
  auto ar = GuestInitramfs(spec);
  if (!ar.ok()) return ar.error();
  std::string name = "initos-initramfs-" + spec.jail_name;
  unique_fd mem(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem.ok()) return ErrnoError() << "memfd_create for the guest initramfs";
  INITOS_TRY(ar->Write(FdSink(mem.get())));
  if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
      0)
    return ErrnoError() << "seal the guest initramfs memfd";
  return mem;
}

Result<std::string> GuestModulesRoot(const JailConfig& jail) {
  return GuestModulesRoot(jail, "/");
}

Result<std::string> GuestModulesRoot(const JailConfig& jail, const std::string& root) {
  if (!jail.vm.kernel_modules.empty()) return PathUnderRoot(root, jail.vm.kernel_modules);
  const std::string kernel =
      PathUnderRoot(root, jail.vm.kernel.empty() ? kDefaultVmKernel : jail.vm.kernel);
  auto fd = OpenFile(kernel, O_RDONLY);
  if (!fd.ok()) return Wrap(fd.error(), "jail " + jail.name + ": VM kernel");
  std::string head(kBzImageHeadBytes, '\0');
  ssize_t n = ::pread(fd->get(), head.data(), head.size(), 0);
  if (n < 0) return ErrnoError() << "jail " << jail.name << ": read " << kernel;
  head.resize(static_cast<size_t>(n));
  auto release = BzImageKernelRelease(head);
  if (!release.ok()) return Wrap(release.error(), "jail " + jail.name + ": " + kernel);
  std::string shipped = PathUnderRoot(root, std::string(kVmModulesDir) + "/" + *release);
  if (IsDirectory(shipped)) return shipped;
  std::string host = PathUnderRoot(root, "/lib/modules/" + *release);
  if (IsDirectory(host)) return host;
  return Err() << "jail " << jail.name << ": no modules for the VM kernel " << *release
               << " (looked in " << kVmModulesDir << "/" << *release << " and /lib/modules/"
               << *release << "); install them or set the jail's vm kernel-modules";
}

}  // namespace jail
}  // namespace initos
