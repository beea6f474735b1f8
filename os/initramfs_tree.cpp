#include "os/initramfs_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "os/elf_libraries.h"
#include "os/modules.h"

namespace initos {
inline namespace os {
namespace {

// Directories PID 1 mounts on or writes to before anything else exists.
constexpr const char* kBaseDirs[] = {"dev", "proc", "sys", "run", "tmp", "root", "etc/initos"};

// A host file (symlinks followed) with its permission bits; already present
// paths are kept as they are.
Result<void> AddHostFileOnce(CpioArchive& ar, const std::string& src, const std::string& dst) {
  if (ar.Contains(dst)) return {};
  struct stat st {};
  if (::stat(src.c_str(), &st) != 0) return ErrnoError() << "stat " << src;
  return ar.AddFileFromPath(dst, src, st.st_mode & 07777);
}

}  // namespace

Result<void> AddInitramfsSkeleton(CpioArchive& ar) {
  for (const char* d : kBaseDirs) INITOS_TRY(ar.AddDirectory(d, 0755));
  INITOS_TRY(ar.AddDirectory("tmp", 01777));
  INITOS_TRY(ar.AddDirectory("root", 0700));
  return ar.AddDevice("dev/console", CpioType::kCharDevice, 5, 1, 0600);
}

Result<void> AddInitramfsModules(CpioArchive& ar, const std::string& modules_root,
                                 const std::string& kver, const std::vector<std::string>& names,
                                 std::string_view unknown_hint, std::string_view parent) {
  auto db = ReadModuleDb(modules_root);
  if (!db.ok()) return db.error();
  auto res = ResolveModules(*db, names, modules_root, unknown_hint);
  if (!res.ok()) return res.error();
  std::string release = kver;
  if (release.empty() && !res->load.empty()) {
    const std::string first = modules_root + "/" + res->load.front();
    auto ko = ReadFileToString(first);
    if (!ko.ok()) return ko.error();
    auto r = ModuleKernelRelease(*ko);
    if (!r.ok()) return Wrap(r.error(), first);
    release = *r;
  }
  if (release.empty())
    return Err() << "no kernel version for lib/modules in the initramfs: every module of "
                 << modules_root << " asked for is built in, so none says";
  const std::string dir = std::string(parent) + "/" + release;
  for (const auto& rel : res->load) {
    const std::string src = modules_root + "/" + rel;
    struct stat st {};
    if (::stat(src.c_str(), &st) != 0) return ErrnoError() << "stat " << src;
    if (!S_ISREG(st.st_mode)) return Err() << src << " is not a regular file";
    INITOS_TRY(ar.AddFileFromPath(dir + "/" + rel, src, st.st_mode & 07777));
  }
  // Only the modules we ship: PID 1 must not resolve to a file that is absent.
  INITOS_TRY(ar.AddFile(dir + "/modules.dep", FormatModulesDep(*db, res->load)));
  std::string builtin_path = modules_root + "/modules.builtin";
  if (::access(builtin_path.c_str(), F_OK) == 0)
    INITOS_TRY(ar.AddFileFromPath(dir + "/modules.builtin", builtin_path, 0644));
  return {};
}

Result<void> AddInitramfsProgram(CpioArchive& ar, const std::string& src, const std::string& dst) {
  INITOS_TRY(AddHostFileOnce(ar, src, dst));
  auto libs = ElfSharedLibraries(src);
  if (!libs.ok()) return libs.error();
  for (const auto& lib : *libs) INITOS_TRY(AddHostFileOnce(ar, lib, lib));
  return {};
}

Result<void> AddInitramfsMkfs(CpioArchive& ar, const std::string& mke2fs, const std::string& conf) {
  INITOS_TRY(AddInitramfsProgram(ar, mke2fs, "sbin/mke2fs"));
  INITOS_TRY(ar.AddSymlink("sbin/mkfs.ext4", "mke2fs"));
  // Without it mke2fs falls back to built-in defaults, which may differ
  // from what the build host's mkfs.ext4 makes.
  if (::access(conf.c_str(), R_OK) == 0) INITOS_TRY(AddHostFileOnce(ar, conf, "etc/mke2fs.conf"));
  return {};
}

Result<std::string> ModuleKernelRelease(std::string_view ko) {
  constexpr std::string_view kKey = "vermagic=";
  // .modinfo strings are NUL-separated; the key starts one of them.
  for (size_t at = ko.find(kKey); at != std::string_view::npos; at = ko.find(kKey, at + 1)) {
    if (at != 0 && ko[at - 1] != '\0') continue;
    std::string_view rest = ko.substr(at + kKey.size());
    std::string_view release = rest.substr(0, rest.find_first_of(std::string_view(" \0", 2)));
    if (!release.empty()) return std::string(release);
  }
  return Err() << "no vermagic in the module's .modinfo (not a kernel module?)";
}

}  // namespace os
}  // namespace initos
