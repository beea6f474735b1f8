#include "format/bzimage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "base/file.h"

namespace initos {
inline namespace format {
namespace {

constexpr size_t kMagicOffset = 0x202;
constexpr size_t kProtocolOffset = 0x206;
constexpr size_t kVersionOffset = 0x20E;
constexpr size_t kVersionBase = 0x200;
constexpr size_t kMaxVersion = 256;  // the kernel's UTS_VERSION line is far shorter

uint16_t Le16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[at]) |
                               static_cast<unsigned char>(s[at + 1]) << 8);
}

}  // namespace

Result<std::string> BzImageKernelRelease(std::string_view head) {
  if (head.size() < kVersionOffset + 2 || head.substr(kMagicOffset, 4) != "HdrS")
    return Err() << "bzImage: no \"HdrS\" setup header at 0x202; not an x86 bzImage (give the "
                    "kernel's vmlinuz, not a vmlinux or an initramfs)";
  uint16_t protocol = Le16(head, kProtocolOffset);
  if (protocol < 0x200)
    return Err() << "bzImage: boot protocol " << (protocol >> 8) << "." << (protocol & 0xff)
                 << " has no kernel_version field; use a kernel built after 2.00 (Linux 1.3.73)";
  uint16_t offset = Le16(head, kVersionOffset);
  if (offset == 0)
    return Err() << "bzImage: kernel_version is 0 (no version string); set kernel-modules "
                    "explicitly";
  size_t at = kVersionBase + offset;
  std::string release;
  for (size_t i = at; i < at + kMaxVersion; ++i) {
    if (i >= head.size())
      return Err() << "bzImage: version string at " << at
                   << " runs past the bytes read; read at least kBzImageHeadBytes";
    unsigned char c = static_cast<unsigned char>(head[i]);
    if (c == 0 || c == ' ') break;
    if (c < 0x21 || c > 0x7e)
      return Err() << "bzImage: version string at " << at
                   << " has a non-printable byte; the image is damaged or not a kernel";
    release += static_cast<char>(c);
  }
  if (release.empty()) return Err() << "bzImage: empty version string at " << at;
  if (release.size() == kMaxVersion)
    return Err() << "bzImage: version string at " << at << " is longer than " << kMaxVersion
                 << " bytes; the image is damaged or not a kernel";
  return release;
}

Result<std::string> ReadBzImageKernelRelease(const std::string& path) {
  auto fd = OpenFile(path, O_RDONLY | O_CLOEXEC);
  if (!fd.ok()) return fd.error();
  std::string head(kBzImageHeadBytes, '\0');
  size_t got = 0;
  while (got < head.size()) {
    ssize_t n = ::pread(fd->get(), head.data() + got, head.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read " << path;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  head.resize(got);
  auto release = BzImageKernelRelease(head);
  if (!release.ok()) return Wrap(release.error(), path);
  return release;
}

}  // namespace format
}  // namespace initos
