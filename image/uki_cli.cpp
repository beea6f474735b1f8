// `initos image uki`: command-line front end of image/uki.h.
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/file.h"
#include "base/options.h"
#include "format/verity.h"
#include "image/image_cli.h"
#include "image/uki.h"

namespace initos {
inline namespace image {
namespace {

constexpr const char kUsage[] =
    "usage: initos image uki -o OUT.efi --kernel K --initramfs I [OPTIONS]\n"
    "\n"
    "Builds a unified kernel image: the systemd-stub EFI program with the\n"
    "os-release, command line, kernel and initramfs as PE sections (.osrel,\n"
    ".cmdline, .linux, .initrd), signed for Secure Boot with --key/--cert.\n"
    "Same inputs give byte-identical output (the PE timestamp is the stub's, or\n"
    "$SOURCE_DATE_EPOCH); see docs/secure-boot.md.\n"
    "\n"
    "  -o, --output OUT.efi   the UKI to write (replaced atomically)\n"
    "  --kernel K             the kernel (bzImage with the EFI stub, /boot/vmlinuz-*)\n"
    "  --initramfs I          the initramfs (`initos image initramfs`)\n"
    "  --cmdline TEXT         the kernel command line, fixed in the UKI (default\n"
    "                         \"console=ttyS0 panic=-1\"; never empty)\n"
    "  --os-release F         the .osrel section (default: ID=initos, VERSION_ID=\n"
    "                         this initos version)\n"
    "  --key db.key           sign with this PEM RSA key (sbsign) ...\n"
    "  --cert db.crt          ... and this X.509 certificate; both or neither\n"
    "  --stub PATH            the EFI stub (default\n"
    "                         /usr/lib/systemd/boot/efi/linuxx64.efi.stub,\n"
    "                         package systemd-boot-efi)\n"
    "  --tmpdir DIR           scratch space (default $TMPDIR or /tmp)\n";

int Usage(const std::string& error) {
  std::fprintf(stderr, "initos: image uki: %s; see `initos image uki --help`\n", error.c_str());
  return 2;
}

}  // namespace

int UkiMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--output", "-o", true},
                                 {"--kernel", "", true},
                                 {"--initramfs", "", true},
                                 {"--cmdline", "", true},
                                 {"--os-release", "", true},
                                 {"--key", "", true},
                                 {"--cert", "", true},
                                 {"--stub", "", true},
                                 {"--tmpdir", "", true}});
  if (!a.ok()) return Usage(a.error().str());
  if (a->help()) return std::fputs(kUsage, stdout), 0;
  if (!a->positional().empty()) return Usage("unknown argument '" + a->positional()[0] + "'");
  UkiOptions o;
  o.output = a->One("--output").value_or("");
  o.kernel = a->One("--kernel").value_or("");
  o.initramfs = a->One("--initramfs").value_or("");
  if (o.output.empty()) return Usage("missing -o OUT.efi");
  if (o.kernel.empty()) return Usage("missing --kernel K");
  if (o.initramfs.empty()) return Usage("missing --initramfs I");
  o.cmdline = a->One("--cmdline").value_or(o.cmdline);
  if (o.cmdline.empty())
    return Usage("empty --cmdline (systemd-stub would take the boot loader's)");
  o.os_release_path = a->One("--os-release").value_or("");
  o.key = a->One("--key").value_or("");
  o.cert = a->One("--cert").value_or("");
  if (a->Has("--key") != a->Has("--cert")) {
    return Usage("--key and --cert go together (both to sign, neither for an unsigned UKI)");
  }
  o.stub = a->One("--stub").value_or(o.stub);
  const char* tmpdir = std::getenv("TMPDIR");
  o.temp_dir = a->One("--tmpdir").value_or(tmpdir && *tmpdir ? tmpdir : "/tmp");
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    char* end = nullptr;
    unsigned long long t = std::strtoull(epoch, &end, 10);
    if (*end != '\0' || t > 0xFFFFFFFFull) {
      return Usage("SOURCE_DATE_EPOCH must be a number of seconds below 2^32");
    }
    o.timestamp = static_cast<uint32_t>(t);
  }
  auto r = BuildUki(o);
  if (!r.ok()) {
    std::fprintf(stderr, "initos: image uki: %s\n", r.error().str().c_str());
    return 1;
  }
  // Size and digest: what a release note lists and a rebuild compares.
  auto bytes = ReadFileToString(o.output);
  if (!bytes.ok()) {
    std::fprintf(stderr, "initos: image uki: %s\n", bytes.error().str().c_str());
    return 1;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes->data(), bytes->size(), md, &len, EVP_sha256(), nullptr);
  std::printf("%s: UKI%s, %zu bytes, sha256 %s\n", o.output.c_str(),
              o.key.empty() ? " (unsigned)" : ", signed", bytes->size(),
              HexEncode(std::vector<uint8_t>(md, md + len)).c_str());
  return 0;
}

}  // namespace image
}  // namespace initos
