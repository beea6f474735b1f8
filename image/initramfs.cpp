#include "image/initramfs.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "format/bzimage.h"
#include "format/config.h"
#include "format/jail_config.h"
#include "jail/vm_guest.h"
#include "os/initramfs_tree.h"
#include "sidecar/sidecar_files.h"

namespace initos {
inline namespace image {
namespace {

template <typename Phdr>
Result<bool> HasInterp(int fd, const std::string& path, uint64_t phoff, uint16_t phnum,
                       uint16_t phentsize) {
  if (phentsize < sizeof(Phdr)) return Err() << path << ": bad ELF program header size";
  for (uint16_t i = 0; i < phnum; ++i) {
    Phdr ph;
    off_t off = static_cast<off_t>(phoff + uint64_t{i} * phentsize);
    if (::pread(fd, &ph, sizeof(ph), off) != static_cast<ssize_t>(sizeof(ph))) {
      return Err() << path << ": truncated ELF program headers";
    }
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

// Adds a host file, directory tree or symlink at dst, keeping permission bits.
Result<void> AddHostPath(CpioArchive& ar, const std::string& src, const std::string& dst,
                         bool follow) {
  struct stat st;
  int rc = follow ? ::stat(src.c_str(), &st) : ::lstat(src.c_str(), &st);
  if (rc != 0) return ErrnoError() << "stat " << src;
  uint32_t mode = st.st_mode & 07777;
  if (S_ISREG(st.st_mode)) {
    auto dyn = IsDynamicElf(src);
    if (dyn.ok() && *dyn) {
      LOG(Warning) << src << " is dynamically linked: its libraries are not copied";
    }
    return ar.AddFileFromPath(dst, src, mode);
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(src.c_str(), target, sizeof(target));
    if (n < 0) return ErrnoError() << "readlink " << src;
    return ar.AddSymlink(dst, std::string(target, static_cast<size_t>(n)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Err() << src << " is not a regular file, directory or symlink";
  }
  // A tree copied to "/" merges into the root instead of being an entry.
  bool to_root =
      dst.find_first_not_of("/.") == std::string::npos && dst.find("..") == std::string::npos;
  if (!to_root) INITOS_TRY(ar.AddDirectory(dst, mode));
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(src.c_str()), ::closedir);
  if (!dir) return ErrnoError() << "opendir " << src;
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* d = ::readdir(dir.get())) {
    if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0) {
      names.emplace_back(d->d_name);
    }
  }
  if (errno != 0) return ErrnoError() << "readdir " << src;
  for (const auto& name : names) {
    // Inside a copied tree symlinks stay symlinks, as `cp -a` would.
    std::string child_dst = to_root ? name : dst + "/" + name;
    INITOS_TRY(AddHostPath(ar, src + "/" + name, child_dst, /*follow=*/false));
  }
  return {};
}

Result<void> AddModules(CpioArchive& ar, const InitramfsSpec& spec,
                        const std::vector<std::string>& names) {
  if (spec.kver.empty()) {
    return Err() << "kernel modules requested but no kernel version known (the running kernel "
                    "has no /lib/modules): pass --kver VERSION";
  }
  const std::string root =
      spec.modules_root.empty() ? "/lib/modules/" + spec.kver : spec.modules_root;
  return AddInitramfsModules(ar, root, spec.kver, names,
                             "check the name and --kver (names come from --module and the "
                             "[init] modules of --config)");
}

// mke2fs for PID 1 to create the state filesystem (init/state_partition.h).
Result<void> AddMkfs(CpioArchive& ar, const InitramfsSpec& spec) {
  if (::access(spec.mkfs_path.c_str(), X_OK) != 0)
    return ErrnoError() << spec.mkfs_path << " (install e2fsprogs on the build host)";
  return AddInitramfsMkfs(ar, spec.mkfs_path, spec.mkfs_conf);
}

// An absolute host path as an archive path (the archive has no leading /).
std::string ArchivePath(std::string_view host) {
  return std::string(host.substr(host.find_first_not_of('/')));
}

// --with-vm: what a VM jail needs from PID 1's root (docs/vm-jails.md).
Result<void> AddVm(CpioArchive& ar, const InitramfsSpec& spec) {
  struct stat st;
  if (::stat(spec.vm_kernel.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Err() << spec.vm_kernel << " is not a kernel image; pass the guest's bzImage";
  auto release = ReadBzImageKernelRelease(spec.vm_kernel);
  if (!release.ok()) return release.error();
  INITOS_TRY(ar.AddFileFromPath(ArchivePath(kDefaultVmKernel), spec.vm_kernel, 0644));

  // Every module a guest may load: with a state disk and vsock.
  GuestSpec guest;
  guest.state_disk = true;
  guest.vsock = true;
  const std::string root =
      spec.vm_modules_root.empty() ? "/lib/modules/" + *release : spec.vm_modules_root;
  INITOS_TRY(AddInitramfsModules(ar, root, *release, GuestModules(guest),
                                 "the guest kernel " + *release + " lacks it (--vm-modules-root)",
                                 ArchivePath(kVmModulesDir)));

  if (::access(spec.vm_qemu.c_str(), X_OK) != 0)
    return ErrnoError() << spec.vm_qemu << " (install qemu-system-x86 on the build host)";
  INITOS_TRY(AddInitramfsProgram(ar, spec.vm_qemu, ArchivePath(spec.vm_qemu)));
  for (const std::string& f : VmQemuDataFiles()) {
    if (ar.Contains(ArchivePath(f))) continue;
    if (f.ends_with(".so")) {
      INITOS_TRY(AddInitramfsProgram(ar, f, ArchivePath(f)));
    } else {
      INITOS_TRY(AddHostPath(ar, f, ArchivePath(f), /*follow=*/true));
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> VmQemuDataFiles() {
  return {
      // Debian builds TCG as a module; KVM needs none.
      "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",
      // Both machines: the -kernel loader option ROM.
      "/usr/share/qemu/linuxboot_dma.bin",
      // microvm: qboot (a symlink to qboot.rom).
      "/usr/share/qemu/bios-microvm.bin",
      // q35: SeaBIOS, the TPR patching ROM, the virtio-net option ROM, and
      // the VGA BIOS without -nodefaults.
      "/usr/share/seabios/bios-256k.bin",
      "/usr/share/qemu/kvmvapic.bin",
      "/usr/lib/ipxe/qemu/efi-virtio.rom",
      "/usr/share/seabios/vgabios-stdvga.bin",
  };
}

Result<bool> IsDynamicElf(const std::string& path) {
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.error();
  Elf64_Ehdr eh;
  ssize_t n = ::pread(fd->get(), &eh, sizeof(eh), 0);
  if (n < static_cast<ssize_t>(EI_NIDENT) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    return Err() << path << " is not an ELF executable";
  }
  if (eh.e_ident[EI_CLASS] == ELFCLASS64) {
    if (n < static_cast<ssize_t>(sizeof(eh))) return Err() << path << ": truncated ELF header";
    return HasInterp<Elf64_Phdr>(fd->get(), path, eh.e_phoff, eh.e_phnum, eh.e_phentsize);
  }
  if (eh.e_ident[EI_CLASS] == ELFCLASS32) {
    Elf32_Ehdr eh32;
    std::memcpy(&eh32, &eh, sizeof(eh32));
    return HasInterp<Elf32_Phdr>(fd->get(), path, eh32.e_phoff, eh32.e_phnum, eh32.e_phentsize);
  }
  return Err() << path << ": unknown ELF class";
}

// The same parser PID 1 uses: a config that would fail at boot fails here,
// at build time, where it is cheap to fix.
Result<Config> LoadBuildConfig(const std::string& config_path) {
  auto text = ReadFileToString(config_path);
  if (!text.ok()) return text.error();
  ParsedConfig parsed = ParseConfig(*text, config_path);
  if (!parsed.problems.empty()) return Err() << parsed.problems.front().str();
  return parsed.config;
}

Result<std::vector<std::string>> ConfigModules(const std::string& config_path) {
  auto config = LoadBuildConfig(config_path);
  if (!config.ok()) return config.error();
  return config->init.modules;
}

Result<bool> ConfigWantsMkfs(const std::string& config_path) {
  auto config = LoadBuildConfig(config_path);
  if (!config.ok()) return config.error();
  return config->state.create && !config->state.device.empty();
}

Result<CpioArchive> AssembleInitramfs(const InitramfsSpec& spec) {
  CpioArchive ar;
  INITOS_TRY(AddInitramfsSkeleton(ar));

  auto dyn = IsDynamicElf(spec.initos_path);
  if (!dyn.ok()) return Wrap(dyn.error(), "--initos");
  if (*dyn) {
    return Err() << "--initos " << spec.initos_path
                 << " is dynamically linked; /init must be the static initos binary";
  }
  INITOS_TRY(ar.AddFileFromPath("init", spec.initos_path, 0755));

  std::vector<std::string> modules = spec.modules;
  bool with_mkfs = spec.with_mkfs;
  if (!spec.config_path.empty()) {
    auto config = LoadBuildConfig(spec.config_path);
    if (!config.ok()) return Wrap(config.error(), "--config");
    modules.insert(modules.end(), config->init.modules.begin(), config->init.modules.end());
    with_mkfs = with_mkfs || (config->state.create && !config->state.device.empty());
    INITOS_TRY(ar.AddFileFromPath("etc/initos/initos.toml", spec.config_path, 0644));
  }
  if (!modules.empty()) INITOS_TRY(AddModules(ar, spec, modules));

  for (const auto& [src, dst] : spec.files) {
    auto r = AddHostPath(ar, src, dst, /*follow=*/true);
    if (!r.ok()) return Wrap(r.error(), "--file " + src + "=" + dst);
  }
  if (spec.with_sshd) {
    auto files = SidecarFiles();
    if (!files.ok()) return Wrap(files.error(), "--with-sshd");
    for (const auto& f : *files) {
      auto r = AddHostPath(ar, f.source, f.dest, /*follow=*/true);
      if (!r.ok()) return Wrap(r.error(), "--with-sshd " + f.source);
    }
    INITOS_TRY(ar.AddFile(kSidecarManifest, SidecarManifestText(*files), 0644));
  }
  // After the sidecar: libraries both need are added once.
  if (with_mkfs) {
    auto r = AddMkfs(ar, spec);
    if (!r.ok())
      return Wrap(r.error(), spec.with_mkfs ? "--with-mkfs" : "state.create in --config");
  }
  if (!spec.vm_kernel.empty()) {
    auto r = AddVm(ar, spec);
    if (!r.ok()) return Wrap(r.error(), "--with-vm");
  }
  return ar;
}

Result<void> WriteInitramfs(const InitramfsSpec& spec, const std::string& out_path) {
  auto ar = AssembleInitramfs(spec);
  if (!ar.ok()) return ar.error();

  std::string tmp = out_path + ".tmp.XXXXXX";
  int raw = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (raw < 0) return ErrnoError() << "create " << out_path << ".tmp";
  unique_fd fd(raw);
  auto write = [&]() -> Result<void> {
    auto comp = MakeCompressor(spec.compression, FdSink(fd.get()), spec.level);
    if (!comp.ok()) return comp.error();
    Compressor* c = comp->get();
    INITOS_TRY(ar->Write([c](std::string_view d) { return c->Write(d); }, spec.mtime));
    INITOS_TRY(c->Finish());
    if (::fchmod(fd.get(), 0644) != 0) return ErrnoError() << "chmod " << tmp;
    if (::fsync(fd.get()) != 0) return ErrnoError() << "fsync " << tmp;
    if (::rename(tmp.c_str(), out_path.c_str()) != 0)
      return ErrnoError() << "rename to " << out_path;
    return {};
  };
  auto r = write();
  if (!r.ok()) {
    ::unlink(tmp.c_str());
    return Wrap(r.error(), "write " + out_path);
  }
  return {};
}

}  // namespace image
}  // namespace initos
