#include "format/cpio_reader.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kHeaderSize = 110;

bool Hex8(std::string_view s, uint32_t* out) {
  uint32_t v = 0;
  for (char c : s.substr(0, 8)) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= static_cast<uint32_t>(c - 'A' + 10);
    else
      return false;
  }
  *out = v;
  return true;
}

size_t Align4(size_t n) {
  return (n + 3) & ~size_t{3};
}

}  // namespace

Result<std::vector<CpioRecord>> ParseNewc(std::string_view ar) {
  std::vector<CpioRecord> out;
  size_t pos = 0;
  for (;;) {
    if (ar.size() - pos < kHeaderSize) return Err() << "cpio: truncated header at " << pos;
    std::string_view h = ar.substr(pos, kHeaderSize);
    if (h.substr(0, 6) != "070701") return Err() << "cpio: bad magic at offset " << pos;
    uint32_t f[13];
    for (int i = 0; i < 13; ++i) {
      if (!Hex8(h.substr(6 + 8 * i), &f[i])) return Err() << "cpio: bad header at " << pos;
    }
    CpioRecord r;
    r.ino = f[0], r.mode = f[1], r.uid = f[2], r.gid = f[3], r.nlink = f[4], r.mtime = f[5];
    uint32_t filesize = f[6], namesize = f[11];
    r.dev_major = f[7], r.dev_minor = f[8], r.rdev_major = f[9], r.rdev_minor = f[10];
    if (namesize == 0 || ar.size() - pos - kHeaderSize < namesize) {
      return Err() << "cpio: bad name size at " << pos;
    }
    r.name = std::string(ar.substr(pos + kHeaderSize, namesize - 1));
    size_t data_pos = Align4(pos + kHeaderSize + namesize);
    if (r.name == "TRAILER!!!") return out;
    if (data_pos > ar.size() || ar.size() - data_pos < filesize) {
      return Err() << "cpio: truncated data of " << r.name;
    }
    r.data = std::string(ar.substr(data_pos, filesize));
    pos = Align4(data_pos + filesize);
    out.push_back(std::move(r));
  }
}

}  // namespace format
}  // namespace initos
