#include "format/boot_status.h"

#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <iterator>
#include <map>

#include "base/file.h"
#include "format/stage.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kMaxText = 4096;
constexpr const char* kKeys[] = {"image",  "version",  "root-hash",      "mode",
                                 "source", "initos",   "booted-at",      "secure-boot",
                                 "trust",  "measured", "measured-event", "measured-pcr"};

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '+' || c == '-';
}

bool AllOf(std::string_view s, bool (*ok)(char)) {
  for (char c : s)
    if (!ok(c)) return false;
  return true;
}

bool Digit(char c) {
  return c >= '0' && c <= '9';
}
bool LowerHex(char c) {
  return Digit(c) || (c >= 'a' && c <= 'f');
}
bool Printable(char c) {
  return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
}

Result<uint64_t> ParseDecimal(std::string_view key, std::string_view s) {
  if (s.empty() || s.size() > 20 || !AllOf(s, Digit) || (s.size() > 1 && s[0] == '0'))
    return Err() << key << " '" << s << "' is not a plain decimal number";
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return Err() << key << " '" << s << "' overflows 64 bits";
    v = v * 10 + d;
  }
  return v;
}

// "SECONDS.MICROS" exactly as FormatSeconds writes it.
Result<double> ParseSeconds(std::string_view s) {
  size_t dot = s.find('.');
  if (dot == std::string_view::npos || s.size() - dot - 1 != 6 || !AllOf(s.substr(dot + 1), Digit))
    return Err() << "booted-at '" << s << "' is not SECONDS.MICROSECONDS";
  auto whole = ParseDecimal("booted-at", s.substr(0, dot));
  if (!whole.ok()) return whole.error();
  uint64_t micros = 0;
  for (char c : s.substr(dot + 1)) micros = micros * 10 + static_cast<uint64_t>(c - '0');
  return static_cast<double>(*whole) + static_cast<double>(micros) / 1e6;
}

Result<void> Check(const BootStatus& s) {
  if (s.mode != "run" && s.mode != "switch-root" && s.mode != "jails")
    return Err() << "mode '" << s.mode << "' is not run, switch-root or jails";
  if (!AllOf(s.source, Printable)) return Err() << "source has control characters";
  if (s.secure_boot.empty() || s.secure_boot.size() > 1024 || !AllOf(s.secure_boot, Printable))
    return Err() << "secure-boot is empty, too long or has control characters";
  if (s.trust != "verified" && s.trust != "development")
    return Err() << "trust '" << s.trust << "' is not verified or development";
  if (s.initos_version.empty() || !AllOf(s.initos_version, NameChar))
    return Err() << "initos '" << s.initos_version << "' is not a version";
  if (s.measured != "none" && s.measured != "no-tpm" && s.measured != "failed" &&
      s.measured != "pcr11")
    return Err() << "measured '" << s.measured << "' is not pcr11, no-tpm, failed or none";
  auto digest = [](const std::string& h) {
    return h.empty() || (h.size() == 64 && AllOf(h, LowerHex));
  };
  if (!digest(s.measured_event) || !digest(s.measured_pcr))
    return Err() << "measured-event and measured-pcr must be 64 lowercase hex digits or empty";
  if (s.measured == "pcr11" && s.measured_event.empty())
    return Err() << "measured=pcr11 needs measured-event";
  if (s.measured != "pcr11" && (!s.measured_event.empty() || !s.measured_pcr.empty()))
    return Err() << "measured-event and measured-pcr are only set with measured=pcr11";
  if (!s.slot.empty() && s.slot != "a" && s.slot != "b")
    return Err() << "slot '" << s.slot << "' is not a or b";
  if (s.image == "none") {
    if (s.version != 0 || !s.root_hash.empty() || !s.source.empty())
      return Err() << "image none must have version 0, no root-hash and no source";
    return {};
  }
  if (s.image.empty() || s.image.size() > 64 || !AllOf(s.image, NameChar))
    return Err() << "image '" << s.image << "' is not a name of 1-64 [A-Za-z0-9._+-]";
  if (s.root_hash.size() < 16 || s.root_hash.size() > 128 || s.root_hash.size() % 2 != 0 ||
      !AllOf(s.root_hash, LowerHex))
    return Err() << "root-hash '" << s.root_hash << "' is not 16-128 lowercase hex digits";
  return {};
}

}  // namespace

// One loop over the fields in kKeys order rather than one long chain of
// `+`: PID 1 writes this before the main program starts, and the chain
// inlined to ~170 distinct code blocks that QEMU's TCG translated once each.
std::string SerializeBootStatus(const BootStatus& s) {
  const std::string version = std::to_string(s.version);
  const std::string booted_at = FormatSeconds(s.booted_at);
  const std::string* values[] = {&s.image,  &version,          &s.root_hash,      &s.mode,
                                 &s.source, &s.initos_version, &booted_at,        &s.secure_boot,
                                 &s.trust,  &s.measured,       &s.measured_event, &s.measured_pcr};
  static_assert(std::size(values) == std::size(kKeys));
  std::string out;
  out.reserve(512);
  for (size_t i = 0; i < std::size(kKeys); ++i) {
    out += kKeys[i];
    out += '=';
    out += *values[i];
    out += '\n';
  }
  if (!s.slot.empty()) {
    out += "slot=";
    out += s.slot;
    out += '\n';
  }
  return out;
}

Result<BootStatus> ParseBootStatus(std::string_view text) {
  if (text.size() > kMaxText) return Err() << "boot status record is over " << kMaxText << " bytes";
  if (text.empty() || text.back() != '\n')
    return Err() << "boot status record does not end with a newline (truncated?)";
  std::map<std::string, std::string, std::less<>> values;
  int line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return Err() << "boot status line " << line_no << " '" << line << "' is not key=value";
    std::string_view key = line.substr(0, eq);
    bool known = false;
    for (const char* k : kKeys) known = known || key == k;
    known = known || key == "slot";
    if (!known) return Err() << "boot status line " << line_no << ": unknown key '" << key << "'";
    if (!values.emplace(std::string(key), std::string(line.substr(eq + 1))).second)
      return Err() << "boot status line " << line_no << ": key '" << key << "' repeated";
  }
  for (const char* k : kKeys)
    if (!values.count(k)) return Err() << "boot status record lacks '" << k << "='";
  BootStatus s;
  s.image = values["image"];
  auto version = ParseDecimal("version", values["version"]);
  if (!version.ok()) return Err() << "boot status: " << version.error().message;
  s.version = *version;
  s.root_hash = values["root-hash"];
  s.mode = values["mode"];
  s.source = values["source"];
  s.initos_version = values["initos"];
  auto at = ParseSeconds(values["booted-at"]);
  if (!at.ok()) return Err() << "boot status: " << at.error().message;
  s.booted_at = *at;
  s.secure_boot = values["secure-boot"];
  s.trust = values["trust"];
  s.measured = values["measured"];
  s.measured_event = values["measured-event"];
  s.measured_pcr = values["measured-pcr"];
  if (auto slot = values.find("slot"); slot != values.end()) s.slot = slot->second;
  auto ok = Check(s);
  if (!ok.ok()) return Err() << "boot status: " << ok.error().message;
  return s;
}

Result<void> WriteBootStatus(const std::string& path, const BootStatus& s) {
  INITOS_TRY(Check(s));
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) INITOS_TRY(MakeDirs(path.substr(0, slash)));
  std::string tmp = path + ".tmp";
  (void)::unlink(tmp.c_str());
  INITOS_TRY(WriteStringToFile(tmp, SerializeBootStatus(s), 0644));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = (ErrnoError() << "rename " << tmp << " to " << path);
    (void)::unlink(tmp.c_str());
    return e;
  }
  return {};
}

double BootTimeSeconds() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace format
}  // namespace initos
