#include "format/config_values.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace initos {
inline namespace format {
namespace {

constexpr size_t kMaxLabel = 36;  // GPT partition names are at most 36 characters

// Labels are restricted to a safe set so they can never smuggle a path, a
// list separator or whitespace into later code.
bool IsLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '+';
}

Result<void> ValidateLabel(std::string_view kind, std::string_view label) {
  if (label.empty()) return Err() << "empty " << kind << "; write e.g. " << kind << "=root_a";
  if (label.size() > kMaxLabel)
    return Err() << kind << " \"" << label << "\" is longer than " << kMaxLabel << " characters";
  for (char c : label) {
    if (!IsLabelChar(c))
      return Err() << kind << " \"" << label << "\" contains '" << c
                   << "'; labels may only use letters, digits and . _ - +";
  }
  return {};
}

Result<void> ValidateBundlePath(std::string_view path) {
  constexpr std::string_view kHint = "; write e.g. LABEL=images:/initos/os.bundle";
  if (path.empty() || path[0] != '/')
    return Err() << "bundle path \"" << path << "\" is not absolute" << kHint;
  if (!path.ends_with(".bundle"))
    return Err() << "bundle path \"" << path << "\" does not end in .bundle" << kHint;
  if (std::string problem = PlainAbsolutePathProblem(path); !problem.empty())
    return Err() << "bundle path \"" << path << "\" " << problem << "; use a plain absolute path";
  return {};
}

std::optional<std::string> DecodeBase64(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t bits = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        ++pad;
        bits <<= 6;
        continue;
      }
      int v = value(c);
      if (v < 0 || pad > 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

constexpr std::array<std::string_view, 7> kSshKeyTypes = {
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

std::string KeyTypeList() {
  std::string s;
  for (auto t : kSshKeyTypes) s += (s.empty() ? "" : ", ") + std::string(t);
  return s;
}

}  // namespace

std::string PlainAbsolutePathProblem(std::string_view path) {
  if (path.empty() || path[0] != '/') return "is not absolute";
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return "has an empty component (\"//\" or a trailing \"/\")";
    if (part == ".." || part == ".") return "contains \"" + std::string(part) + "\"";
    start = end + 1;
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ',' || c == ' ')
      return "contains a space, comma or control character";
  return "";
}

Result<void> ValidateImageSpec(std::string_view spec) {
  if (spec.empty()) return {};
  constexpr std::string_view kHint =
      "; expected PARTLABEL=name, LABEL=name, LABEL=name:/path/file.bundle or SERIAL=serial";
  if (spec.starts_with("PARTLABEL=")) {
    std::string_view label = spec.substr(10);
    if (label.find(':') != std::string_view::npos)
      return Err() << "a bundle path needs a filesystem: use LABEL=name:/path/file.bundle, not "
                   << "PARTLABEL";
    return ValidateLabel("PARTLABEL", label);
  }
  if (spec.starts_with("LABEL=")) {
    std::string_view rest = spec.substr(6);
    size_t colon = rest.find(':');
    INITOS_TRY(ValidateLabel("LABEL", rest.substr(0, colon)));
    if (colon == std::string_view::npos) return {};
    return ValidateBundlePath(rest.substr(colon + 1));
  }
  if (spec.starts_with("SERIAL=")) return ValidateDiskSerial(spec.substr(7));
  return Err() << "invalid image \"" << spec << "\"" << kHint;
}

Result<void> ValidateDeviceSpec(std::string_view spec) {
  if (spec.empty()) return {};
  if (spec.starts_with("LABEL=")) return ValidateLabel("LABEL", spec.substr(6));
  if (spec.starts_with("PARTLABEL=")) return ValidateLabel("PARTLABEL", spec.substr(10));
  if (spec.starts_with("PARTUUID=")) return ValidateGuid(spec.substr(9));
  if (spec.starts_with("SERIAL=")) return ValidateDiskSerial(spec.substr(7));
  return Err() << "invalid device \"" << spec
               << "\"; expected LABEL=name, PARTLABEL=name, PARTUUID=guid or SERIAL=serial";
}

Result<void> ValidateDiskSerial(std::string_view serial) {
  constexpr size_t kMaxSerial = 20;  // VIRTIO_BLK_ID_BYTES
  if (serial.empty()) return Err() << "empty SERIAL; write e.g. SERIAL=initos-rootfs";
  if (serial.size() > kMaxSerial)
    return Err() << "SERIAL \"" << serial << "\" is longer than " << kMaxSerial
                 << " characters (virtio-blk keeps 20)";
  for (char c : serial)
    if (!IsLabelChar(c))
      return Err() << "SERIAL \"" << serial << "\" contains '" << c
                   << "'; serials may only use letters, digits and . _ - +";
  return {};
}

Result<void> ValidateGuid(std::string_view g) {
  static constexpr size_t kDash[] = {8, 13, 18, 23};
  bool ok = g.size() == 36;
  for (size_t i = 0; ok && i < g.size(); ++i) {
    bool dash = std::find(std::begin(kDash), std::end(kDash), i) != std::end(kDash);
    char c = g[i];
    ok = dash ? c == '-'
              : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
  }
  if (!ok)
    return Err() << "\"" << g
                 << "\" is not a GUID; write 36 characters like "
                    "\"4d21b016-b534-45c2-a9fb-5c16e091fd2d\"";
  return {};
}

Result<void> ValidateListenAddress(std::string_view addr) {
  constexpr std::string_view kHint =
      "; expected IPv4:port or [IPv6]:port, e.g. 0.0.0.0:22 or [::]:22";
  std::string host;
  std::string_view port;
  int family = AF_INET;
  if (addr.starts_with("[")) {
    size_t close = addr.find(']');
    if (close == std::string_view::npos || close + 1 >= addr.size() || addr[close + 1] != ':')
      return Err() << "invalid listen address \"" << addr << "\"" << kHint;
    host = addr.substr(1, close - 1);
    port = addr.substr(close + 2);
    family = AF_INET6;
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos)
      return Err() << "listen address \"" << addr << "\" has no port" << kHint;
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(family, host.c_str(), buf) != 1)
    return Err() << "listen address \"" << addr << "\": \"" << host << "\" is not a numeric "
                 << (family == AF_INET ? "IPv4" : "IPv6") << " address" << kHint;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos)
    return Err() << "listen address \"" << addr << "\": bad port \"" << port << "\"" << kHint;
  int p = std::stoi(std::string(port));
  if (p < 1 || p > 65535)
    return Err() << "listen address \"" << addr << "\": port " << p << " is not in 1..65535";
  return {};
}

Result<void> ValidateAuthorizedKey(std::string_view line) {
  const std::string hint =
      "; paste one line of a .pub file: TYPE BASE64 [comment], TYPE one of " + KeyTypeList();
  if (line.find("-----BEGIN") != std::string_view::npos)
    return Err() << "this is a PEM block, not an OpenSSH public key line" << hint;
  if (line.find_first_of("\n\r") != std::string_view::npos)
    return Err() << "contains a line break; give one key per list entry" << hint;
  size_t sp = line.find(' ');
  std::string_view type = line.substr(0, sp);
  bool known = false;
  for (auto t : kSshKeyTypes) known = known || t == type;
  if (!known) {
    if (type.find('=') != std::string_view::npos || type.find(',') != std::string_view::npos)
      return Err() << "authorized_keys options (\"" << type << "\") are not supported" << hint;
    return Err() << "unknown key type \"" << type << "\"" << hint;
  }
  if (sp == std::string_view::npos)
    return Err() << "key data missing after \"" << type << "\"" << hint;
  std::string_view rest = line.substr(sp + 1);
  std::string_view b64 = rest.substr(0, rest.find(' '));
  auto blob = DecodeBase64(b64);
  if (!blob) return Err() << "key data is not valid base64" << hint;
  // A key blob is a sequence of SSH strings (uint32 length + bytes), the
  // first being the key type; truncation or garbage breaks the framing.
  std::vector<std::string_view> fields;
  std::string_view rest_blob(*blob);
  while (!rest_blob.empty()) {
    if (rest_blob.size() < 4) return Err() << "key data is truncated" << hint;
    uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(rest_blob[0])) << 24) |
                   (static_cast<uint32_t>(static_cast<uint8_t>(rest_blob[1])) << 16) |
                   (static_cast<uint32_t>(static_cast<uint8_t>(rest_blob[2])) << 8) |
                   static_cast<uint32_t>(static_cast<uint8_t>(rest_blob[3]));
    if (len > rest_blob.size() - 4) return Err() << "key data is truncated" << hint;
    fields.push_back(rest_blob.substr(4, len));
    rest_blob.remove_prefix(4 + len);
  }
  if (fields.size() < 2 || fields[0] != type)
    return Err() << "key data does not match its type \"" << type << "\" (mixed-up line?)" << hint;
  if (type == "ssh-ed25519" && (fields.size() != 2 || fields[1].size() != 32))
    return Err() << "ssh-ed25519 key data has the wrong size" << hint;
  return {};
}

Result<void> ValidateImageName(std::string_view n) {
  bool ok = !n.empty() && n.size() <= 64;
  for (char c : n)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '+' || c == '-');
  if (!ok)
    return Err() << "\"" << n
                 << "\" is not an image name; use 1 to 64 letters, digits and . _ + - (the "
                    "--name given to `initos image build`)";
  return {};
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace format
}  // namespace initos
