#include "image/uki.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "base/file.h"
#include "image/authenticode_time.h"
#include "image/erofs.h"
#include "image/uki_layout.h"

namespace initos {
inline namespace image {
namespace {

Result<uint64_t> InputSize(const char* what, const std::string& path, const char* fix) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError() << what << " " << path << "; " << fix;
  if (!S_ISREG(st.st_mode)) return Err() << what << " " << path << " is not a regular file";
  return static_cast<uint64_t>(st.st_size);
}

std::string Hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// sbsign, and with a fixed timestamp its signature's signingTime set to it
// (authenticode_time.h), so the signed UKI is reproducible too.
Result<std::string> Sign(const UkiOptions& o, const std::string& dir,
                         const std::string& unsigned_path) {
  const std::string signed_path = dir + "/signed.efi";
  if (!o.timestamp) {
    INITOS_TRY(RunToolQuietly(
        {"sbsign", "--key", o.key, "--cert", o.cert, "--output", signed_path, unsigned_path}));
    return ReadFileToString(signed_path);
  }
  if (FindInPath("sbattach").empty()) return Err() << "sbattach not found; install sbsigntool";
  const std::string sig = dir + "/uki.p7";
  INITOS_TRY(RunToolQuietly(
      {"sbsign", "--key", o.key, "--cert", o.cert, "--detached", "--output", sig, unsigned_path}));
  auto der = ReadFileToString(sig);
  if (!der.ok()) return der.error();
  auto key = ReadFileToString(o.key);
  if (!key.ok()) return key.error();
  auto fixed = SetSigningTime(*der, *key, *o.timestamp);
  if (!fixed.ok()) return fixed.error();
  INITOS_TRY(WriteStringToFile(sig, *fixed, 0600));
  auto image = ReadFileToString(unsigned_path);
  if (!image.ok()) return image.error();
  INITOS_TRY(WriteStringToFile(signed_path, *image, 0644));
  INITOS_TRY(RunToolQuietly({"sbattach", "--attach", sig, signed_path}));
  return ReadFileToString(signed_path);
}

}  // namespace

std::string DefaultOsRelease() {
  std::string v = INITOS_VERSION;
  return "NAME=\"InitOS\"\nID=initos\nVERSION_ID=" + v + "\nPRETTY_NAME=\"InitOS " + v + "\"\n";
}

Result<void> BuildUki(const UkiOptions& o) {
  if (o.key.empty() != o.cert.empty()) {
    return Err() << "signing needs both --key and --cert (or neither, for an unsigned UKI)";
  }
  if (o.output.empty()) return Err() << "no output path; give -o OUT.efi";
  if (o.cmdline.empty()) {
    return Err() << "empty --cmdline: systemd-stub would then take the boot loader's; give one";
  }
  auto stub = ReadFileToString(o.stub);
  if (!stub.ok()) {
    return Err() << "EFI stub " << o.stub << ": " << stub.error().str()
                 << "; install systemd-boot-efi or give --stub PATH";
  }
  auto pe = ParsePeHeaders(*stub);
  if (!pe.ok()) return Wrap(pe.error(), "EFI stub " + o.stub);
  if (FindInPath("objcopy").empty()) return Err() << "objcopy not found; install binutils";
  const bool sign = !o.key.empty();
  if (sign && FindInPath("sbsign").empty()) return Err() << "sbsign not found; install sbsigntool";

  auto tmp = ScratchDir::Create(o.temp_dir, "initos-uki");
  if (!tmp.ok()) return tmp.error();
  std::string osrel_path = o.os_release_path;
  if (osrel_path.empty()) {
    osrel_path = tmp->path() + "/os-release";
    INITOS_TRY(WriteStringToFile(osrel_path, DefaultOsRelease()));
  }
  // The stub hands the section to the kernel as is: no trailing newline.
  const std::string cmdline_path = tmp->path() + "/cmdline";
  INITOS_TRY(WriteStringToFile(cmdline_path, o.cmdline));

  UkiInputs in;
  auto osrel = InputSize("os-release", osrel_path, "give an existing --os-release file");
  if (!osrel.ok()) return osrel.error();
  auto kernel = InputSize("kernel", o.kernel, "give --kernel /boot/vmlinuz-...");
  if (!kernel.ok()) return kernel.error();
  auto initrd = InputSize("initramfs", o.initramfs, "build one with `initos image initramfs`");
  if (!initrd.ok()) return initrd.error();
  // systemd-stub starts the kernel through its own EFI stub: a kernel
  // without one (no PE header) would only fail at boot.
  auto kernel_bytes = ReadFileToString(o.kernel);
  if (!kernel_bytes.ok()) return kernel_bytes.error();
  if (!ParsePeHeaders(*kernel_bytes).ok()) {
    return Err() << "kernel " << o.kernel
                 << " is not an EFI-stub kernel (no PE32+ header); give a bzImage built with "
                    "CONFIG_EFI_STUB (Debian's /boot/vmlinuz-*)";
  }
  in.osrel_size = *osrel;
  in.cmdline_size = o.cmdline.size();
  in.linux_size = kernel_bytes->size();
  in.initrd_size = *initrd;
  auto plan = PlanUkiSections(*pe, in);
  if (!plan.ok()) return Wrap(plan.error(), "EFI stub " + o.stub);

  const std::string unsigned_path = tmp->path() + "/unsigned.efi";
  std::vector<std::string> argv = {"objcopy"};
  for (const UkiSection& s : *plan) {
    const std::string& file = s.name == ".osrel"     ? osrel_path
                              : s.name == ".cmdline" ? cmdline_path
                              : s.name == ".linux"   ? o.kernel
                                                     : o.initramfs;
    argv.push_back("--add-section");
    argv.push_back(s.name + "=" + file);
    argv.push_back("--set-section-flags");
    argv.push_back(s.name + "=data,readonly");
    argv.push_back("--change-section-vma");
    argv.push_back(s.name + "=" + Hex(s.vma));
  }
  argv.push_back(o.stub);
  argv.push_back(unsigned_path);
  if (auto r = RunToolQuietly(argv); !r.ok()) return Wrap(r.error(), "build UKI");

  // objcopy stamps the PE header with the wall clock: put back a fixed time.
  auto image = ReadFileToString(unsigned_path);
  if (!image.ok()) return image.error();
  INITOS_TRY(SetPeTimestamp(*image, o.timestamp.value_or(pe->timestamp)));
  INITOS_TRY(WriteStringToFile(unsigned_path, *image, 0644));

  if (sign) {
    auto signed_image = Sign(o, tmp->path(), unsigned_path);
    if (!signed_image.ok()) {
      return Wrap(signed_image.error(), "sign UKI with " + o.key + " and " + o.cert +
                                            " (PEM RSA key and its X.509 certificate)");
    }
    *image = std::move(*signed_image);
  }
  const std::string part = o.output + ".tmp";
  INITOS_TRY(WriteStringToFile(part, *image, 0644));
  if (::rename(part.c_str(), o.output.c_str()) != 0) {
    return ErrnoError() << "rename " << part << " to " << o.output;
  }
  return {};
}

}  // namespace image
}  // namespace initos
