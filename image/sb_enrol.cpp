#include "image/sb_enrol.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "base/spawn.h"
#include "format/cpio.h"
#include "image/erofs.h"
#include "image/sb_keys.h"
#include "jail/qemu_command.h"

namespace initos {
inline namespace image {
namespace {

namespace fs = std::filesystem;

// Tool -> Debian package, for the one-line "install X" error.
const char* PackageOf(const std::string& tool) {
  if (tool == "openssl") return "openssl";
  if (tool == "cert-to-efi-sig-list" || tool == "sign-efi-sig-list") return "efitools";
  if (tool.starts_with("qemu-system")) return "qemu-system-x86";
  return "its package";
}

Result<void> NeedFile(const std::string& path, const char* package) {
  if (::access(path.c_str(), R_OK) == 0) return {};
  // Debian's /boot/vmlinuz-* is readable by root only.
  if (errno == EACCES) return ErrnoError() << "cannot read " << path << "; run as root";
  return ErrnoError() << path << " is missing; install " << package << " (scripts/setup.sh)";
}

// The enrolment initramfs (uncompressed newc): busybox, efivarfs.ko, the
// three precomposed variable writes and /init.
Result<void> WriteEnrolInitramfs(const SbEnrolOptions& o, const std::string& module,
                                 const std::string& out) {
  CpioArchive a;
  INITOS_TRY(a.AddDevice("dev/console", CpioType::kCharDevice, 5, 1));
  INITOS_TRY(a.AddFileFromPath("bin/busybox", o.busybox, 0755));
  std::string guest_module;
  if (!module.empty()) {
    guest_module = "/efivarfs.ko";
    INITOS_TRY(a.AddFileFromPath(guest_module, module));
  }
  for (const SbKey& k : kSbKeys) {
    std::string path = o.dir + "/" + k.name + ".auth";
    auto auth = ReadFileToString(path);
    if (!auth.ok()) return auth.error();
    INITOS_TRY(a.AddFile(std::string("vars/") + k.name, EfivarfsWrite(*auth)));
  }
  INITOS_TRY(a.AddFile("init", EnrolInitScript(guest_module), 0755));
  auto bytes = a.WriteToString();
  if (!bytes.ok()) return bytes.error();
  return WriteStringToFile(out, *bytes);
}

}  // namespace

Result<void> RunSbKeysPlan(const std::vector<std::vector<std::string>>& plan) {
  for (const auto& argv : plan) {
    if (FindInPath(argv.at(0)).empty())
      return Err() << argv[0] << " not found; install " << PackageOf(argv[0])
                   << " (scripts/setup.sh)";
  }
  for (const auto& argv : plan) {
    auto r = RunTool(argv);
    if (!r.ok()) return Wrap(r.error(), argv.at(0) + " " + argv.at(1));
  }
  return {};
}

std::string NewestBootKernel() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/boot", ec)) {
    std::string name = e.path().filename();
    if (name.starts_with("vmlinuz-")) found.push_back(e.path());
  }
  if (found.empty()) return "";
  return *std::max_element(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return ::strverscmp(a.c_str(), b.c_str()) < 0;
  });
}

Result<std::string> FindEfivarfsModule(const std::string& modules_root) {
  std::string ko = modules_root + "/kernel/fs/efivarfs/efivarfs.ko";
  if (::access(ko.c_str(), R_OK) == 0) return ko;
  auto builtin = ReadFileToString(modules_root + "/modules.builtin");
  if (builtin.ok() && builtin->find("kernel/fs/efivarfs/efivarfs.ko") != std::string::npos)
    return std::string();
  return Err() << "efivarfs is neither built into the kernel nor at " << ko
               << " (uncompressed); give --kernel with its modules";
}

Result<void> CheckEnrolTools(const SbEnrolOptions& o) {
  if (FindInPath(o.qemu).empty())
    return Err() << o.qemu << " not found; install qemu-system-x86 (scripts/setup.sh)";
  INITOS_TRY(NeedFile(o.vars_template, "ovmf"));
  INITOS_TRY(NeedFile(o.firmware_code, "ovmf"));
  return NeedFile(o.busybox, "busybox-static");
}

Result<void> EnrolOvmfVars(const SbEnrolOptions& o) {
  INITOS_TRY(CheckEnrolTools(o));
  std::string kernel = o.kernel.empty() ? NewestBootKernel() : o.kernel;
  if (kernel.empty())
    return Err() << "no /boot/vmlinuz-* to boot the enrolment guest; give --kernel";
  INITOS_TRY(NeedFile(kernel, "a kernel (or give --kernel)"));
  std::string modules_root = o.modules_root;
  if (modules_root.empty()) {
    std::string name = fs::path(kernel).filename();
    if (name.starts_with("vmlinuz-")) name = name.substr(8);
    modules_root = "/lib/modules/" + name;
  }
  auto module = FindEfivarfsModule(modules_root);
  if (!module.ok()) return module.error();

  std::string initramfs = o.dir + "/enrol-initramfs.cpio";
  std::string vars_tmp = o.dir + "/OVMF_VARS.fd.tmp";
  std::string log = o.dir + "/enrol-console.log";
  INITOS_TRY(WriteEnrolInitramfs(o, *module, initramfs));
  std::error_code ec;
  fs::copy_file(o.vars_template, vars_tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) return Err() << "copy " << o.vars_template << " to " << vars_tmp << ": " << ec.message();

  QemuVm vm;
  vm.binary = o.qemu;
  vm.memory_mb = 256;
  vm.kernel = kernel;
  vm.initramfs = initramfs;
  vm.append = "quiet";
  vm.firmware_code = o.firmware_code;
  vm.firmware_vars = vars_tmp;
  vm.secure_boot = true;
  auto argv = QemuArgv(vm);
  if (!argv.ok()) return argv.error();
  SpawnOptions so;
  so.argv = *argv;
  // QEMU's serial console is on stdio: never our terminal (it would go raw).
  auto devnull = OpenFile("/dev/null", O_RDONLY);
  if (!devnull.ok()) return devnull.error();
  so.stdin_fd = devnull->get();
  auto f = SpawnAndWait(std::move(so), /*merge_stderr=*/true, o.timeout);
  (void)::unlink(initramfs.c_str());
  if (!f.ok()) {
    (void)::unlink(vars_tmp.c_str());
    return Err() << "enrolment guest: " << f.error().str()
                 << "; TCG is slow, raise --timeout if the machine is busy";
  }
  (void)WriteStringToFile(log, f->output);
  auto checked = CheckEnrolConsole(f->output);
  if (!checked.ok()) {
    (void)::unlink(vars_tmp.c_str());
    return Err() << checked.error().str() << " (console: " << log << ")";
  }
  std::string vars = o.dir + "/OVMF_VARS.fd";
  if (::rename(vars_tmp.c_str(), vars.c_str()) != 0) return ErrnoError() << "rename to " << vars;
  return {};
}

}  // namespace image
}  // namespace initos
