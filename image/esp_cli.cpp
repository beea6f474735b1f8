// `initos image esp`: command-line front end of image/esp.h.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/options.h"
#include "image/esp.h"
#include "image/image_cli.h"

namespace initos {
inline namespace image {
namespace {

constexpr const char kUsage[] =
    "usage: initos image esp -o ESP.img --uki A.efi [--uki-b B.efi] [--size-mib N]\n"
    "\n"
    "Builds a FAT32 EFI system partition image (no mounting: mkfs.fat and mtools)\n"
    "with the UKI at EFI/BOOT/BOOTX64.EFI, the path firmware boots without a boot\n"
    "entry. With --uki-b, also EFI/initos/a.efi and EFI/initos/b.efi for A/B boot\n"
    "entries (efibootmgr; docs/secure-boot.md). A raw file system, no partition\n"
    "table: QEMU/OVMF boots it as a disk; for a GPT disk see the docs.\n"
    "Same inputs give the same bytes; FAT dates are $SOURCE_DATE_EPOCH or 1980-01-01.\n"
    "\n"
    "  -o, --output ESP.img   the image to write (replaced atomically)\n"
    "  --uki A.efi            the UKI to boot (slot A)\n"
    "  --uki-b B.efi          the slot B UKI\n"
    "  --size-mib N           image size (default: room for the files, at least 34)\n";

int Usage(const std::string& error) {
  std::fprintf(stderr, "initos: image esp: %s; see `initos image esp --help`\n", error.c_str());
  return 2;
}

}  // namespace

int EspMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--output", "-o", true},
                                 {"--uki", "", true},
                                 {"--uki-b", "", true},
                                 {"--size-mib", "", true}});
  if (!a.ok()) return Usage(a.error().str());
  if (a->help()) return std::fputs(kUsage, stdout), 0;
  if (!a->positional().empty()) return Usage("unknown argument '" + a->positional()[0] + "'");
  EspOptions o;
  o.output = a->One("--output").value_or("");
  o.uki_a = a->One("--uki").value_or("");
  o.uki_b = a->One("--uki-b").value_or("");
  if (o.output.empty()) return Usage("missing -o ESP.img");
  if (o.uki_a.empty()) return Usage("missing --uki A.efi");
  if (auto s = a->One("--size-mib")) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s->c_str(), &end, 10);
    if (s->empty() || *end != '\0' || v == 0 || v > (1ull << 20)) {
      return Usage("--size-mib must be a number of MiB");
    }
    o.size_mib = v;
  }
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    char* end = nullptr;
    unsigned long long t = std::strtoull(epoch, &end, 10);
    if (*end != '\0') return Usage("SOURCE_DATE_EPOCH must be a number of seconds");
    // FAT dates start at 1980: earlier times would be clamped by mtools anyway.
    o.timestamp = t < kEspDefaultTime ? kEspDefaultTime : t;
  }
  auto r = BuildEsp(o);
  if (!r.ok()) {
    std::fprintf(stderr, "initos: image esp: %s\n", r.error().str().c_str());
    return 1;
  }
  std::printf("%s: ESP with %s at %s%s\n", o.output.c_str(), o.uki_a.c_str(), kEspRemovablePath,
              o.uki_b.empty() ? "" : " and A/B UKIs in /EFI/initos");
  return 0;
}

}  // namespace image
}  // namespace initos
