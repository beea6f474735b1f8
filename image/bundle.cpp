#include "image/bundle.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "image/erofs.h"

namespace initos {
inline namespace image {
namespace {

// Header block field offsets (little-endian integers); docs/bundle-format.md.
constexpr size_t kOffVersion = 8;
constexpr size_t kOffAreaSize = 12;
constexpr size_t kOffManifestLength = 16;
constexpr size_t kOffSignatureLength = 20;
constexpr size_t kHeaderFieldsEnd = 24;

uint64_t RoundUp(uint64_t v, uint64_t align) {
  return (v + align - 1) / align * align;
}

void PutLe32(std::string& s, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[off + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetLe32(std::string_view s, size_t off) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(s[off + i])) << (8 * i);
  return v;
}

// First non-zero byte in s[begin, end), or npos.
size_t FirstNonZero(std::string_view s, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (s[i] != '\0') return i;
  }
  return std::string_view::npos;
}

Result<void> PreadFully(int fd, void* buf, size_t size, uint64_t offset) {
  char* p = static_cast<char*>(buf);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read at offset " << offset;
    if (n == 0) return Err() << "unexpected end of file at offset " << offset;
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> PwriteFully(int fd, const void* buf, size_t size, uint64_t offset) {
  const char* p = static_cast<const char*>(buf);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "write at offset " << offset;
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<std::string> ReadHeaderArea(int fd, uint64_t device_size) {
  std::string area(std::min<uint64_t>(device_size, kBundleHeaderAreaSize), '\0');
  INITOS_TRY(PreadFully(fd, area.data(), area.size(), 0));
  return area;
}

Result<std::array<uint8_t, 16>> ParseUuid(const std::string& uuid) {
  std::string hex;
  for (char c : uuid) {
    if (c != '-') hex += c;
  }
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != 16) return Err() << "bad uuid '" << uuid << "'";
  std::array<uint8_t, 16> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

// Reproducible UUID: a hash of what identifies the build (RFC 4122 v4 bits
// set so tools that check the variant accept it).
std::string DeriveUuid(const std::string& name, uint64_t version,
                       const std::vector<uint8_t>& salt) {
  std::string in = "initos-bundle-uuid";
  in += '\0';
  in += name;
  in += '\0';
  in += std::to_string(version);
  in += '\0';
  in.append(salt.begin(), salt.end());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr);
  md[6] = (md[6] & 0x0f) | 0x40;
  md[8] = (md[8] & 0x3f) | 0x80;
  std::string hex = HexEncode(std::vector<uint8_t>(md, md + 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

Result<void> CopyInto(int out_fd, uint64_t out_offset, const std::string& path, uint64_t* size) {
  auto in = OpenFile(path, O_RDONLY);
  if (!in.ok()) return in.error();
  std::vector<char> buf(1 << 20);
  *size = 0;
  for (;;) {
    ssize_t n = ::read(in->get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "read " << path;
    if (n == 0) return {};
    INITOS_TRY(PwriteFully(out_fd, buf.data(), static_cast<size_t>(n), out_offset + *size));
    *size += static_cast<uint64_t>(n);
  }
}

// The file behind a unique name that is unlinked unless kept.
struct TempFile {
  std::string path;
  bool keep = false;
  ~TempFile() {
    if (!path.empty() && !keep) ::unlink(path.c_str());
  }
};

Result<unique_fd> MakeTemp(const std::string& prefix, TempFile* tf) {
  std::string tmpl = prefix + ".XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoError() << "create temporary file " << tmpl;
  tf->path = tmpl;
  return unique_fd(fd);
}

// The verity superblock's unused bytes are not covered by any hash and the
// verity checker only reads its fields: require zeros there, so that no byte
// of a verified bundle can differ from what was signed. Offsets per the
// veritysetup superblock: pad1 at [82, 88), pad2 at [344, 512), then the rest
// of the hash block.
Result<void> CheckSuperblockPadding(int fd, uint64_t hash_offset, uint32_t hash_block_size) {
  std::string sb(hash_block_size, '\0');
  INITOS_TRY(PreadFully(fd, sb.data(), sb.size(), hash_offset));
  for (auto [begin, end] : {std::pair<size_t, size_t>{82, 88}, {344, sb.size()}}) {
    if (size_t i = FirstNonZero(sb, begin, end); i != std::string::npos) {
      return Err() << "verity superblock: unused byte " << i << " is not zero";
    }
  }
  return {};
}

}  // namespace

std::vector<uint8_t> DeriveSalt(std::string_view seed, const std::string& name, uint64_t version) {
  std::string in = "initos-salt";
  in += '\0';
  in += seed;
  in += '\0';
  in += name;
  in += '\0';
  in += std::to_string(version);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr);
  return std::vector<uint8_t>(md, md + len);
}

Result<std::string> EncodeBundleHeader(std::string_view manifest, std::string_view signature) {
  if (manifest.empty() || manifest.size() > kManifestMaxSize) {
    return Err() << "manifest of " << manifest.size() << " bytes does not fit a bundle";
  }
  if (signature.empty() || signature.size() > kBundleMaxSignatureSize) {
    return Err() << "signature of " << signature.size() << " bytes does not fit a bundle";
  }
  if (kBundleHeaderBlockSize + manifest.size() + signature.size() > kBundleHeaderAreaSize) {
    return Err() << "manifest and signature overrun the " << kBundleHeaderAreaSize
                 << "-byte header area";
  }
  std::string area(kBundleHeaderAreaSize, '\0');
  std::memcpy(area.data(), kBundleMagic, sizeof(kBundleMagic));
  PutLe32(area, kOffVersion, kBundleHeaderVersion);
  PutLe32(area, kOffAreaSize, kBundleHeaderAreaSize);
  PutLe32(area, kOffManifestLength, static_cast<uint32_t>(manifest.size()));
  PutLe32(area, kOffSignatureLength, static_cast<uint32_t>(signature.size()));
  std::memcpy(area.data() + kBundleHeaderBlockSize, manifest.data(), manifest.size());
  std::memcpy(area.data() + kBundleHeaderBlockSize + manifest.size(), signature.data(),
              signature.size());
  return area;
}

Result<BundleHeader> ParseBundleHeader(std::string_view area, uint64_t device_size) {
  if (device_size < kBundleHeaderAreaSize || area.size() < kBundleHeaderAreaSize) {
    return Err() << "too small to be a bundle (" << std::min<uint64_t>(device_size, area.size())
                 << " bytes; the header area alone is " << kBundleHeaderAreaSize << ")";
  }
  area = area.substr(0, kBundleHeaderAreaSize);
  if (area.substr(0, sizeof(kBundleMagic)) !=
      std::string_view(kBundleMagic, sizeof(kBundleMagic))) {
    return Err() << "not an InitOS bundle (bad magic in the header)";
  }
  BundleHeader h;
  h.version = GetLe32(area, kOffVersion);
  if (h.version != kBundleHeaderVersion) {
    return Err() << "unsupported bundle header version " << h.version << " (this initos reads "
                 << kBundleHeaderVersion << ")";
  }
  uint32_t area_size = GetLe32(area, kOffAreaSize);
  if (area_size != kBundleHeaderAreaSize) {
    return Err() << "header area size " << area_size << " is not " << kBundleHeaderAreaSize;
  }
  uint32_t mlen = GetLe32(area, kOffManifestLength);
  uint32_t slen = GetLe32(area, kOffSignatureLength);
  if (mlen == 0 || mlen > kManifestMaxSize) {
    return Err() << "header: manifest length " << mlen << " out of bounds (1.." << kManifestMaxSize
                 << ")";
  }
  if (slen == 0 || slen > kBundleMaxSignatureSize) {
    return Err() << "header: signature length " << slen << " out of bounds (1.."
                 << kBundleMaxSignatureSize << ")";
  }
  uint64_t end = kBundleHeaderBlockSize + uint64_t{mlen} + slen;
  if (end > kBundleHeaderAreaSize) {
    return Err() << "header: manifest and signature overrun the header area (end " << end << " > "
                 << kBundleHeaderAreaSize << ")";
  }
  if (size_t i = FirstNonZero(area, kHeaderFieldsEnd, kBundleHeaderBlockSize);
      i != std::string_view::npos) {
    return Err() << "header: reserved byte " << i << " is not zero";
  }
  if (size_t i = FirstNonZero(area, end, kBundleHeaderAreaSize); i != std::string_view::npos) {
    return Err() << "header area: unused byte " << i << " after the signature is not zero";
  }
  h.manifest = std::string(area.substr(kBundleHeaderBlockSize, mlen));
  h.signature = std::string(area.substr(kBundleHeaderBlockSize + mlen, slen));
  return h;
}

Result<uint64_t> DeviceSize(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError() << "fstat";
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) return ErrnoError() << "BLKGETSIZE64";
    return size;
  }
  return Err() << "not a regular file or block device";
}

Result<VerityParams> VerityParamsFromManifest(const Manifest& m) {
  VerityParams p;
  p.algorithm = m.hash_algorithm;
  p.data_block_size = m.data_block_size;
  p.hash_block_size = m.hash_block_size;
  auto salt = HexDecode(m.salt);
  if (!salt.ok()) return Wrap(salt.error(), "manifest salt");
  p.salt = *salt;
  auto uuid = ParseUuid(m.uuid);
  if (!uuid.ok()) return uuid.error();
  p.uuid = *uuid;
  return p;
}

namespace {

// Device size and the parsed header area: the first step of both reading and
// verifying a bundle (nothing here is trusted yet).
Result<void> ReadSizeAndHeader(int fd, OpenedBundle& b) {
  auto size = DeviceSize(fd);
  if (!size.ok()) return size.error();
  b.device_size = *size;
  auto area = ReadHeaderArea(fd, b.device_size);
  if (!area.ok()) return area.error();
  auto header = ParseBundleHeader(*area, b.device_size);
  if (!header.ok()) return header.error();
  b.header = std::move(*header);
  return {};
}

}  // namespace

Result<OpenedBundle> ReadBundle(int fd) {
  OpenedBundle b;
  INITOS_TRY(ReadSizeAndHeader(fd, b));
  auto m = ParseManifest(b.header.manifest, {kBundleHeaderAreaSize, b.device_size});
  if (!m.ok()) return m.error();
  b.manifest = std::move(*m);
  return b;
}

Result<BundleVerification> VerifyBundle(int fd, const std::vector<SigningKey>& trusted,
                                        const ProgressFn& progress) {
  BundleVerification v;
  OpenedBundle& b = v.bundle;
  INITOS_TRY(ReadSizeAndHeader(fd, b));
  // Signature before parsing: everything after this point is signed input.
  auto key = VerifyWithTrustedKeys(trusted, b.header.manifest, b.header.signature);
  if (!key.ok()) return key.error();
  v.key_index = *key;
  auto m = ParseManifest(b.header.manifest, {kBundleHeaderAreaSize, b.device_size});
  if (!m.ok()) return m.error();
  b.manifest = std::move(*m);
  auto params = VerityParamsFromManifest(b.manifest);
  if (!params.ok()) return params.error();
  auto tree_size = VerityTreeSize(b.manifest.data_size, *params);
  if (!tree_size.ok()) return Wrap(tree_size.error(), "manifest");
  uint64_t tree = *tree_size;
  if (RoundUp(tree, kManifestAlign) != b.manifest.hash_size) {
    return Err() << "manifest: hash_size " << b.manifest.hash_size << " does not fit data_size "
                 << b.manifest.data_size << " (the tree needs " << tree << " bytes)";
  }
  // The padding after the tree is not hashed: require zeros so no byte of the
  // bundle is unchecked.
  std::string pad(b.manifest.hash_size - tree, '\0');
  INITOS_TRY(PreadFully(fd, pad.data(), pad.size(), b.manifest.hash_offset + tree));
  if (size_t i = FirstNonZero(pad, 0, pad.size()); i != std::string::npos) {
    return Err() << "hash tree padding byte " << (b.manifest.hash_offset + tree + i)
                 << " is not zero";
  }
  INITOS_TRY(CheckSuperblockPadding(fd, b.manifest.hash_offset, b.manifest.hash_block_size));
  auto root = HexDecode(b.manifest.root_hash);
  if (!root.ok()) return Wrap(root.error(), "manifest root_hash");
  INITOS_TRY(VerifyVerityTree(fd, b.manifest.data_offset, b.manifest.data_size, fd,
                              b.manifest.hash_offset, *params, *root, progress));
  return v;
}

Result<Manifest> BuildBundle(const BundleBuildOptions& o, const SigningKey& key,
                             const ProgressFn& progress) {
  Manifest m;
  m.name = o.name;
  m.version = o.version;
  m.created = o.created;
  m.salt = HexEncode(o.salt);
  m.uuid = o.uuid.empty() ? DeriveUuid(o.name, o.version, o.salt) : o.uuid;
  m.data_offset = kBundleHeaderAreaSize;

  TempFile image_file;
  {
    auto fd = MakeTemp(o.temp_dir + "/initos-erofs", &image_file);
    if (!fd.ok()) return fd.error();
  }
  INITOS_TRY(MakeErofsImage({o.rootfs, image_file.path, o.created, m.uuid, o.temp_dir}));

  TempFile out_file;
  auto out = MakeTemp(o.output, &out_file);
  if (!out.ok()) return out.error();
  uint64_t image_size = 0;
  INITOS_TRY(CopyInto(out->get(), m.data_offset, image_file.path, &image_size));
  m.data_size = RoundUp(std::max<uint64_t>(image_size, 1), kManifestAlign);
  m.hash_offset = m.data_offset + m.data_size;
  // Zero the tail of the last data block before it is hashed.
  if (::ftruncate(out->get(), static_cast<off_t>(m.hash_offset)) != 0) {
    return ErrnoError() << "resize " << out_file.path;
  }
  auto params = VerityParamsFromManifest(m);
  if (!params.ok()) return params.error();
  auto tree = BuildVerityTree(out->get(), m.data_offset, m.data_size, out->get(), m.hash_offset,
                              *params, progress);
  if (!tree.ok()) return Wrap(tree.error(), "build hash tree");
  m.hash_size = RoundUp(tree->hash_size, kManifestAlign);
  m.root_hash = HexEncode(tree->root_hash);
  uint64_t total = m.hash_offset + m.hash_size;
  if (::ftruncate(out->get(), static_cast<off_t>(total)) != 0) {
    return ErrnoError() << "resize " << out_file.path;
  }
  INITOS_TRY(ValidateManifest(m, {kBundleHeaderAreaSize, total}));
  std::string text = SerializeManifest(m);
  auto sig = Sign(key, text);
  if (!sig.ok()) return sig.error();
  auto area = EncodeBundleHeader(text, *sig);
  if (!area.ok()) return area.error();
  INITOS_TRY(PwriteFully(out->get(), area->data(), area->size(), 0));
  if (::fchmod(out->get(), 0644) != 0) return ErrnoError() << "chmod " << out_file.path;
  if (::fsync(out->get()) != 0) return ErrnoError() << "fsync " << out_file.path;
  if (::rename(out_file.path.c_str(), o.output.c_str()) != 0) {
    return ErrnoError() << "rename " << out_file.path << " to " << o.output;
  }
  out_file.keep = true;
  return m;
}

}  // namespace image
}  // namespace initos
