// `initos image sb-keys`, the pure half: which openssl and efitools commands
// create an owner's Secure Boot keys (PK, KEK, db) and their authenticated
// variable updates, and what the enrolment guest runs and prints. No
// syscalls here (image/sb_enrol.h runs the plan and boots the guest), so
// every command line and the console parsing are unit tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace image {

// The three keys, in enrolment order (PK last: writing it ends setup mode).
struct SbKey {
  const char* name;    // "db": files DIR/db.key, .crt, .cer, .esl, .auth
  const char* signer;  // whose key signs its update: db by KEK, KEK and PK by PK
  const char* guid;    // the EFI variable's vendor GUID
};
inline constexpr SbKey kSbKeys[] = {
    {"db", "KEK", "d719b2cb-3d3a-4596-a3bc-dad00e67656f"},  // EFI_IMAGE_SECURITY_DATABASE_GUID
    {"KEK", "PK", "8be4df61-93ca-11d2-aa0d-00e098032b8c"},  // EFI_GLOBAL_VARIABLE
    {"PK", "PK", "8be4df61-93ca-11d2-aa0d-00e098032b8c"},
};
inline constexpr std::string_view kEfiGlobalGuid = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

struct SbKeysInput {
  std::string dir;                          // output directory
  std::string owner_name = "InitOS owner";  // certificate subjects: "NAME PK", ...
  std::string guid;                         // owner GUID (signature owner in every list)
  int days = 3650;                          // certificate validity
};

// The command lines, in order: per key an RSA-2048 key (openssl genpkey), a
// self-signed certificate (PEM .crt and DER .cer, which firmware setup
// screens want), an EFI signature list (cert-to-efi-sig-list) and the
// authenticated update signed by its signer (sign-efi-sig-list).
std::vector<std::vector<std::string>> PlanSbKeys(const SbKeysInput& in);

// "/CN=NAME/" for openssl -subj, with '/', '\\', '+' and '=' escaped.
std::string SubjectArg(std::string_view common_name);

// A lower-case 8-4-4-4-12 GUID check (what efitools' -g accepts).
Result<void> CheckGuid(std::string_view guid);

// RFC 4122 version-4 GUID text from 16 random bytes.
std::string GuidFromBytes(const unsigned char bytes[16]);

// What efivarfs wants in ONE write(): the 4-byte little-endian attributes
// NV|BS|RT|TIME_BASED_AUTHENTICATED_WRITE (0x27), then the .auth content.
std::string EfivarfsWrite(std::string_view auth);

// The enrolment guest's /init (busybox sh): mount efivarfs, write
// /vars/db, /vars/KEK, /vars/PK (PK last), print the marker with SetupMode
// and power off. `efivarfs_module`: path of efivarfs.ko in the initramfs,
// "" when the kernel has it built in.
std::string EnrolInitScript(const std::string& efivarfs_module);

// The marker the guest prints when every write worked and SetupMode is 0.
inline constexpr std::string_view kEnrolledMarker = "INITOS-SB-ENROLLED setup-mode=0";

// Checks the guest's console: ok when the marker is there, else an error
// naming the variable the firmware refused or what was last seen.
Result<void> CheckEnrolConsole(std::string_view console);

}  // namespace image
}  // namespace initos
