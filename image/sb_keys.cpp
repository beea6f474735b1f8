#include "image/sb_keys.h"

#include <cstdio>

namespace initos {
inline namespace image {
namespace {

// The keys are generated in this order; their updates are signed after all
// of them exist (db's signer, KEK, must be there first).
constexpr const char* kGenerateOrder[] = {"PK", "KEK", "db"};

std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  size_t nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

}  // namespace

std::string SubjectArg(std::string_view common_name) {
  std::string s = "/CN=";
  for (char c : common_name) {
    if (c == '/' || c == '\\' || c == '+' || c == '=') s += '\\';
    s += c;
  }
  return s + "/";
}

Result<void> CheckGuid(std::string_view guid) {
  static constexpr int kGroups[] = {8, 4, 4, 4, 12};
  size_t pos = 0;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < kGroups[i]; ++j, ++pos) {
      char c = pos < guid.size() ? guid[pos] : '\0';
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return Err() << "owner GUID \"" << guid
                     << "\" is not a lower-case GUID like 12345678-9abc-4def-8123-456789abcdef";
    }
    if (i < 4 && (pos >= guid.size() || guid[pos++] != '-'))
      return Err() << "owner GUID \"" << guid << "\" is not of the form 8-4-4-4-12";
  }
  if (pos != guid.size()) return Err() << "owner GUID \"" << guid << "\" is too long";
  return {};
}

std::string GuidFromBytes(const unsigned char bytes[16]) {
  unsigned char b[16];
  for (int i = 0; i < 16; ++i) b[i] = bytes[i];
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string s;
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    std::snprintf(hex, sizeof(hex), "%02x", b[i]);
    s += hex;
  }
  return s;
}

std::vector<std::vector<std::string>> PlanSbKeys(const SbKeysInput& in) {
  std::vector<std::vector<std::string>> plan;
  auto file = [&](std::string_view key, const char* ext) {
    return in.dir + "/" + std::string(key) + ext;
  };
  for (const char* k : kGenerateOrder) {
    plan.push_back({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", file(k, ".key")});
    plan.push_back({"openssl", "req", "-new", "-x509", "-key", file(k, ".key"), "-sha256", "-days",
                    std::to_string(in.days), "-subj", SubjectArg(in.owner_name + " " + k), "-out",
                    file(k, ".crt")});
    plan.push_back(
        {"openssl", "x509", "-in", file(k, ".crt"), "-outform", "DER", "-out", file(k, ".cer")});
    plan.push_back({"cert-to-efi-sig-list", "-g", in.guid, file(k, ".crt"), file(k, ".esl")});
  }
  for (const SbKey& k : kSbKeys) {
    plan.push_back({"sign-efi-sig-list", "-g", in.guid, "-k", file(k.signer, ".key"), "-c",
                    file(k.signer, ".crt"), k.name, file(k.name, ".esl"), file(k.name, ".auth")});
  }
  return plan;
}

std::string EfivarfsWrite(std::string_view auth) {
  // EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS |
  // TIME_BASED_AUTHENTICATED_WRITE_ACCESS, little endian.
  std::string out("\x27\x00\x00\x00", 4);
  out.append(auth);
  return out;
}

std::string EnrolInitScript(const std::string& efivarfs_module) {
  std::string s =
      "#!/bin/busybox sh\n"
      "# InitOS Secure Boot enrolment (initos image sb-keys): runs in setup mode.\n"
      "B=/bin/busybox\n"
      "fail() { echo \"INITOS-SB-FAILED $1\"; $B poweroff -f; exit 1; }\n"
      "$B mkdir -p /proc /sys\n"
      "$B mount -t proc proc /proc\n"
      "$B mount -t sysfs sysfs /sys\n";
  if (!efivarfs_module.empty()) s += "$B insmod " + efivarfs_module + " || fail efivarfs-module\n";
  s += "E=/sys/firmware/efi/efivars\n";
  s += "$B mount -t efivarfs efivarfs $E || fail efivarfs\n";
  s += "G=" + std::string(kEfiGlobalGuid) + "\n";
  s += "mode() { $B od -An -tu1 $E/SetupMode-$G | $B awk '{print $NF}'; }\n";
  s += "m=$(mode)\n";
  s += "[ \"$m\" = 1 ] || fail not-in-setup-mode=$m\n";
  // One write() each (dd bs=1M): efivarfs takes the attributes and the whole
  // authenticated update in a single call, or refuses it.
  for (const SbKey& k : kSbKeys) {
    s += "$B dd if=/vars/" + std::string(k.name) + " of=$E/" + k.name + "-" + k.guid +
         " bs=1M 2>/dev/null || fail " + k.name + "\n";
  }
  s += "m=$(mode)\n";
  s += "[ \"$m\" = 0 ] || fail setup-mode=$m\n";
  s += "$B test -s $E/PK-$G || fail PK-missing\n";
  s += "echo \"" + std::string(kEnrolledMarker) + "\"\n";
  s += "$B poweroff -f\n";
  return s;
}

Result<void> CheckEnrolConsole(std::string_view console) {
  if (console.find(kEnrolledMarker) != std::string_view::npos) return {};
  constexpr std::string_view kFailed = "INITOS-SB-FAILED ";
  size_t at = console.find(kFailed);
  if (at != std::string_view::npos) {
    std::string_view rest = console.substr(at + kFailed.size());
    std::string what(rest.substr(0, rest.find_first_of("\r\n")));
    if (what.starts_with("not-in-setup-mode"))
      return Err() << "the variables template already has a PK (not in setup mode); start from "
                      "an empty one such as /usr/share/OVMF/OVMF_VARS_4M.fd";
    if (what == "db" || what == "KEK" || what == "PK")
      return Err() << "the firmware refused the " << what << " update (" << what
                   << ".auth); check that it was signed by its signer's key";
    return Err() << "enrolment guest failed: " << what;
  }
  return Err() << "enrolment guest did not print \"" << kEnrolledMarker
               << "\"; last console line: \"" << LastLine(console) << "\"";
}

}  // namespace image
}  // namespace initos
