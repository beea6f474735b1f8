#include "format/manifest.h"

#include <array>
#include <map>

namespace initos {
inline namespace format {
namespace {

// Key order of the canonical form; also the complete set of accepted keys.
constexpr std::array<std::string_view, 15> kKeys = {
    "initos-manifest",
    "name",
    "version",
    "created",
    "fs_type",
    "data_offset",
    "data_size",
    "hash_offset",
    "hash_size",
    "hash_algorithm",
    "data_block_size",
    "hash_block_size",
    "salt",
    "root_hash",
    "uuid",
};

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxSaltBytes = 256;  // what veritysetup accepts

bool IsKnownKey(std::string_view k) {
  for (auto key : kKeys) {
    if (key == k) return true;
  }
  return false;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<uint64_t> ParseU64(std::string_view key, std::string_view v) {
  if (v.empty()) return Err() << "manifest: " << key << " is empty";
  if (v.size() > 1 && v[0] == '0') {
    return Err() << "manifest: " << key << " has a leading zero: '" << v << "'";
  }
  uint64_t out = 0;
  for (char c : v) {
    if (c < '0' || c > '9') {
      return Err() << "manifest: " << key << " is not a decimal number: '" << v << "'";
    }
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (out > (UINT64_MAX - d) / 10) {
      return Err() << "manifest: " << key << " overflows 64 bits: '" << v << "'";
    }
    out = out * 10 + d;
  }
  return out;
}

Result<uint32_t> ParseU32(std::string_view key, std::string_view v) {
  auto n = ParseU64(key, v);
  if (!n.ok()) return n.error();
  if (*n > UINT32_MAX) return Err() << "manifest: " << key << " overflows 32 bits: '" << v << "'";
  return static_cast<uint32_t>(*n);
}

bool IsValidName(std::string_view n) {
  if (n.empty() || n.size() > kMaxNameLength) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidUuid(std::string_view u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (u[i] == '-')) return false;
    if (!dash && !IsLowerHex(u.substr(i, 1))) return false;
  }
  return true;
}

bool IsValidBlockSize(uint32_t s) {
  return s >= 512 && s <= 4096 && (s & (s - 1)) == 0;
}

// A region [offset, offset+size): aligned, non-empty, no uint64 wrap.
Result<uint64_t> RegionEnd(std::string_view what, uint64_t offset, uint64_t size) {
  if (offset % kManifestAlign != 0) {
    return Err() << "manifest: " << what << "_offset " << offset << " is not a multiple of "
                 << kManifestAlign;
  }
  if (size % kManifestAlign != 0) {
    return Err() << "manifest: " << what << "_size " << size << " is not a multiple of "
                 << kManifestAlign;
  }
  if (size == 0) return Err() << "manifest: " << what << "_size is 0";
  if (offset > UINT64_MAX - size) {
    return Err() << "manifest: " << what << " region end overflows (offset " << offset << " + size "
                 << size << ")";
  }
  return offset + size;
}

Result<void> ValidateLayout(const Manifest& m, const ManifestLimits& limits) {
  auto data_end = RegionEnd("data", m.data_offset, m.data_size);
  if (!data_end.ok()) return data_end.error();
  auto hash_end = RegionEnd("hash", m.hash_offset, m.hash_size);
  if (!hash_end.ok()) return hash_end.error();
  if (m.data_offset < limits.reserved_end) {
    return Err() << "manifest: data region at " << m.data_offset
                 << " overlaps the header area (ends at " << limits.reserved_end << ")";
  }
  if (m.hash_offset < limits.reserved_end) {
    return Err() << "manifest: hash region at " << m.hash_offset
                 << " overlaps the header area (ends at " << limits.reserved_end << ")";
  }
  if (m.data_offset < *hash_end && m.hash_offset < *data_end) {
    return Err() << "manifest: data region [" << m.data_offset << ", " << *data_end
                 << ") overlaps hash region [" << m.hash_offset << ", " << *hash_end << ")";
  }
  if (m.data_size % m.data_block_size != 0) {
    return Err() << "manifest: data_size " << m.data_size << " is not a multiple of "
                 << "data_block_size " << m.data_block_size;
  }
  uint64_t end = std::max(*data_end, *hash_end);
  if (end > limits.device_size) {
    return Err() << "manifest: regions end at " << end << " but the device has only "
                 << limits.device_size << " bytes";
  }
  return {};
}

}  // namespace

Result<size_t> HashAlgorithmDigestSize(std::string_view algorithm) {
  if (algorithm == "sha256") return size_t{32};
  if (algorithm == "sha512") return size_t{64};
  return Err() << "manifest: unsupported hash_algorithm '" << algorithm << "' (sha256 or sha512)";
}

Result<void> ValidateManifest(const Manifest& m, const ManifestLimits& limits) {
  if (m.format != kManifestFormatVersion) {
    return Err() << "manifest: unsupported format version " << m.format << " (this initos reads "
                 << kManifestFormatVersion << ")";
  }
  if (!IsValidName(m.name)) {
    return Err() << "manifest: name must be 1-" << kMaxNameLength
                 << " characters of [A-Za-z0-9._-]";
  }
  if (m.fs_type != "erofs") {
    return Err() << "manifest: unsupported fs_type '" << m.fs_type << "' (only erofs)";
  }
  auto digest_size = HashAlgorithmDigestSize(m.hash_algorithm);
  if (!digest_size.ok()) return digest_size.error();
  size_t digest = *digest_size;
  if (!IsValidBlockSize(m.data_block_size)) {
    return Err() << "manifest: data_block_size " << m.data_block_size
                 << " is not a power of two in [512, 4096]";
  }
  if (!IsValidBlockSize(m.hash_block_size)) {
    return Err() << "manifest: hash_block_size " << m.hash_block_size
                 << " is not a power of two in [512, 4096]";
  }
  if (m.salt.size() % 2 != 0 || m.salt.size() > 2 * kMaxSaltBytes || !IsLowerHex(m.salt)) {
    return Err() << "manifest: salt must be lowercase hex of at most " << kMaxSaltBytes << " bytes";
  }
  if (m.root_hash.size() != 2 * digest || !IsLowerHex(m.root_hash)) {
    return Err() << "manifest: root_hash must be " << 2 * digest << " lowercase hex digits for "
                 << m.hash_algorithm;
  }
  if (!IsValidUuid(m.uuid)) {
    return Err() << "manifest: uuid must look like 01234567-89ab-cdef-0123-456789abcdef";
  }
  return ValidateLayout(m, limits);
}

Result<Manifest> ParseManifest(std::string_view text, const ManifestLimits& limits) {
  if (text.size() > kManifestMaxSize) {
    return Err() << "manifest: " << text.size() << " bytes is over the " << kManifestMaxSize
                 << "-byte limit";
  }
  if (text.empty()) return Err() << "manifest: empty";
  if (text.back() != '\n') return Err() << "manifest: truncated (last line has no newline)";

  std::map<std::string_view, std::string_view> fields;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Err() << "manifest: line " << line_no << " is not key=value";
    }
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (!IsKnownKey(key)) {
      // Keys come from untrusted input: print only what is printable.
      std::string shown;
      for (char c : key.substr(0, 40)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      return Err() << "manifest: unknown key '" << shown << "' on line " << line_no;
    }
    for (char c : value) {
      if (c < 0x20 || c >= 0x7f) {
        return Err() << "manifest: " << key << " on line " << line_no
                     << " has a control or non-ASCII byte";
      }
    }
    if (!fields.emplace(key, value).second) {
      return Err() << "manifest: duplicate key '" << key << "' on line " << line_no;
    }
  }
  for (auto key : kKeys) {
    if (!fields.count(key)) return Err() << "manifest: missing key '" << key << "'";
  }

  Manifest m;
  auto u32 = [&](std::string_view k, uint32_t* out) -> Result<void> {
    auto v = ParseU32(k, fields[k]);
    if (!v.ok()) return v.error();
    *out = *v;
    return {};
  };
  auto u64 = [&](std::string_view k, uint64_t* out) -> Result<void> {
    auto v = ParseU64(k, fields[k]);
    if (!v.ok()) return v.error();
    *out = *v;
    return {};
  };
  INITOS_TRY(u32("initos-manifest", &m.format));
  if (m.format != kManifestFormatVersion) {
    return Err() << "manifest: unsupported format version " << m.format << " (this initos reads "
                 << kManifestFormatVersion << ")";
  }
  m.name = fields["name"];
  INITOS_TRY(u64("version", &m.version));
  INITOS_TRY(u64("created", &m.created));
  m.fs_type = fields["fs_type"];
  INITOS_TRY(u64("data_offset", &m.data_offset));
  INITOS_TRY(u64("data_size", &m.data_size));
  INITOS_TRY(u64("hash_offset", &m.hash_offset));
  INITOS_TRY(u64("hash_size", &m.hash_size));
  m.hash_algorithm = fields["hash_algorithm"];
  INITOS_TRY(u32("data_block_size", &m.data_block_size));
  INITOS_TRY(u32("hash_block_size", &m.hash_block_size));
  m.salt = fields["salt"];
  m.root_hash = fields["root_hash"];
  m.uuid = fields["uuid"];
  INITOS_TRY(ValidateManifest(m, limits));
  return m;
}

std::string SerializeManifest(const Manifest& m) {
  std::string out;
  auto put = [&](std::string_view k, const std::string& v) {
    out.append(k);
    out += '=';
    out += v;
    out += '\n';
  };
  put(kKeys[0], std::to_string(m.format));
  put("name", m.name);
  put("version", std::to_string(m.version));
  put("created", std::to_string(m.created));
  put("fs_type", m.fs_type);
  put("data_offset", std::to_string(m.data_offset));
  put("data_size", std::to_string(m.data_size));
  put("hash_offset", std::to_string(m.hash_offset));
  put("hash_size", std::to_string(m.hash_size));
  put("hash_algorithm", m.hash_algorithm);
  put("data_block_size", std::to_string(m.data_block_size));
  put("hash_block_size", std::to_string(m.hash_block_size));
  put("salt", m.salt);
  put("root_hash", m.root_hash);
  put("uuid", m.uuid);
  return out;
}

}  // namespace format
}  // namespace initos
