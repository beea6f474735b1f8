// `initos image sb-keys`: command-line front end of image/sb_keys.h (the
// plan) and image/sb_enrol.h (running it, enrolling into OVMF variables).
#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "base/file.h"
#include "base/options.h"
#include "image/image_cli.h"
#include "image/sb_enrol.h"
#include "image/sb_keys.h"

namespace initos {
inline namespace image {
namespace {

constexpr const char kUsage[] =
    "usage: initos image sb-keys -o DIR [--owner-name TEXT] [--guid GUID]\n"
    "                            [--vars-template PATH] [--firmware-code PATH]\n"
    "                            [--kernel K] [--timeout SECONDS] [--no-vars] [--force]\n"
    "\n"
    "Creates a Secure Boot owner: RSA-2048 keys and self-signed certificates for\n"
    "PK, KEK and db (DIR/NAME.key, .crt, DER .cer), EFI signature lists (.esl)\n"
    "and authenticated updates (.auth: PK and KEK signed by PK, db by KEK;\n"
    "efitools), and DIR/OVMF_VARS.fd: an OVMF variables file with them\n"
    "enrolled, so a VM with OVMF_CODE_4M.secboot.fd trusts only this owner.\n"
    "Enrolment boots a tiny guest in setup mode under QEMU (TCG) with the host\n"
    "kernel; it writes db, KEK, then PK through efivarfs.\n"
    "\n"
    "  -o, --output DIR        where everything goes (keys mode 0600)\n"
    "  --owner-name TEXT       certificate subjects \"TEXT PK\", ... (default\n"
    "                          \"InitOS owner\")\n"
    "  --guid GUID             owner GUID in every signature list (default: random;\n"
    "                          written to DIR/GUID.txt)\n"
    "  --vars-template PATH    empty variables file to start from (default\n"
    "                          /usr/share/OVMF/OVMF_VARS_4M.fd, in setup mode)\n"
    "  --firmware-code PATH    OVMF code (default\n"
    "                          /usr/share/OVMF/OVMF_CODE_4M.secboot.fd)\n"
    "  --kernel K              kernel for the enrolment guest (default: newest\n"
    "                          /boot/vmlinuz-*; efivarfs from its /lib/modules)\n"
    "  --timeout SECONDS       give up on the guest after this (default 180)\n"
    "  --no-vars               keys, lists and updates only (for real hardware)\n"
    "  --force                 replace keys already in DIR\n"
    "\n"
    "See docs/secure-boot.md (owner keys, key rotation, real hardware).\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "initos: image sb-keys: %s\n", message.c_str());
  return 1;
}

}  // namespace

int SbKeysMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--output", "-o", true},
                                 {"--owner-name", "", true},
                                 {"--guid", "", true},
                                 {"--vars-template", "", true},
                                 {"--firmware-code", "", true},
                                 {"--kernel", "", true},
                                 {"--timeout", "", true},
                                 {"--no-vars"},
                                 {"--force"}});
  if (!a.ok()) return Fail(a.error().str() + "; see `initos image sb-keys --help`");
  if (a->help()) return std::fputs(kUsage, stdout), 0;
  if (!a->positional().empty())
    return Fail("unknown argument '" + a->positional()[0] + "'; see `initos image sb-keys --help`");
  auto dir = a->One("--output");
  if (!dir) return Fail("missing -o DIR; see `initos image sb-keys --help`");

  SbKeysInput in;
  in.dir = *dir;
  in.owner_name = a->One("--owner-name").value_or(in.owner_name);
  if (auto g = a->One("--guid")) {
    in.guid = *g;
  } else {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Fail("no random bytes for the owner GUID");
    in.guid = GuidFromBytes(bytes);
  }
  if (auto r = CheckGuid(in.guid); !r.ok()) return Fail(r.error().str());

  SbEnrolOptions e;
  e.dir = *dir;
  e.vars_template = a->One("--vars-template").value_or(e.vars_template);
  e.firmware_code = a->One("--firmware-code").value_or(e.firmware_code);
  e.kernel = a->One("--kernel").value_or("");
  if (auto t = a->One("--timeout")) {
    char* end = nullptr;
    long s = std::strtol(t->c_str(), &end, 10);
    if (t->empty() || *end != '\0' || s < 1 || s > 3600)
      return Fail("--timeout must be a number of seconds from 1 to 3600");
    e.timeout = std::chrono::seconds(s);
  }

  if (!a->Has("--force")) {
    for (const SbKey& k : kSbKeys) {
      std::string key = *dir + "/" + k.name + ".key";
      if (::access(key.c_str(), F_OK) == 0)
        return Fail(key + " already exists; refusing to replace an owner key (use --force)");
    }
  }
  if (!a->Has("--no-vars")) {
    if (auto r = CheckEnrolTools(e); !r.ok()) return Fail(r.error().str());
  }
  if (auto r = MakeDirs(*dir, 0700); !r.ok()) return Fail(r.error().str());
  if (auto r = RunSbKeysPlan(PlanSbKeys(in)); !r.ok()) return Fail(r.error().str());
  if (auto r = WriteStringToFile(*dir + "/GUID.txt", in.guid + "\n"); !r.ok())
    return Fail(r.error().str());
  std::printf("%s: PK, KEK and db of owner %s (keys: keep PK.key and KEK.key offline)\n",
              dir->c_str(), in.guid.c_str());
  if (a->Has("--no-vars")) return 0;
  if (auto r = EnrolOvmfVars(e); !r.ok()) return Fail(r.error().str());
  std::printf("%s/OVMF_VARS.fd: OVMF variables in user mode with these keys enrolled\n",
              dir->c_str());
  return 0;
}

}  // namespace image
}  // namespace initos
