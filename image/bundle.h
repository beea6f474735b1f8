// The signed image bundle: one file (or partition) holding
//   [0, 64 KiB)   header area: 4 KiB header block, manifest, signature, zeros
//   [64 KiB, ..)  EROFS data, then the dm-verity superblock + hash tree.
// The signature covers the exact manifest bytes; the manifest pins the verity
// root hash, which covers every data and tree block. See docs/bundle-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "format/manifest.h"
#include "format/signing.h"
#include "format/verity.h"

namespace initos {
inline namespace image {

inline constexpr char kBundleMagic[8] = {'I', 'N', 'I', 'T', 'O', 'S', 'B', '1'};
inline constexpr uint32_t kBundleHeaderVersion = 1;
inline constexpr uint64_t kBundleHeaderBlockSize = 4096;
inline constexpr uint64_t kBundleHeaderAreaSize = 64 * 1024;
inline constexpr uint32_t kBundleMaxSignatureSize = 1024;

struct BundleHeader {
  uint32_t version = kBundleHeaderVersion;
  std::string manifest;   // exact signed bytes
  std::string signature;  // detached signature over `manifest`
};

// The whole header area (kBundleHeaderAreaSize bytes). Errors if the manifest
// and signature don't fit.
Result<std::string> EncodeBundleHeader(std::string_view manifest, std::string_view signature);

// Pure and bounded: `area` is at most the first kBundleHeaderAreaSize bytes of
// the bundle, device_size the size of the whole file or partition. Checks
// magic, version, lengths and that every unused byte of the area is zero.
Result<BundleHeader> ParseBundleHeader(std::string_view area, uint64_t device_size);

struct OpenedBundle {
  BundleHeader header;
  Manifest manifest;
  uint64_t device_size = 0;
};

// Size of a regular file or block device.
Result<uint64_t> DeviceSize(int fd);

// Reads and parses header and manifest; does NOT check the signature (info).
Result<OpenedBundle> ReadBundle(int fd);

struct BundleVerification {
  OpenedBundle bundle;
  size_t key_index = 0;  // which trusted key signed it
};

// Full check in the documented order: header, signature (against any trusted
// key), manifest, layout, then every data and hash-tree block.
Result<BundleVerification> VerifyBundle(int fd, const std::vector<SigningKey>& trusted,
                                        const ProgressFn& progress = {});

// The verity parameters a manifest describes.
Result<VerityParams> VerityParamsFromManifest(const Manifest& m);

struct BundleBuildOptions {
  std::string rootfs;  // directory or tarball
  std::string output;
  std::string name;
  uint64_t version = 0;
  uint64_t created = 0;
  std::vector<uint8_t> salt;
  std::string uuid;  // empty: derived from name, version and salt (reproducible)
  std::string temp_dir = "/tmp";
};

// The verity salt of a reproducible build (`image build --seed`, or
// SOURCE_DATE_EPOCH): SHA-256("initos-salt" NUL seed NUL name NUL version),
// 32 bytes. The name and version make two images of one release differ.
std::vector<uint8_t> DeriveSalt(std::string_view seed, const std::string& name, uint64_t version);

// Builds the EROFS image, the verity tree, the manifest and signs it; writes
// `output` atomically (temp file + rename).
Result<Manifest> BuildBundle(const BundleBuildOptions& options, const SigningKey& key,
                             const ProgressFn& progress = {});

}  // namespace image
}  // namespace initos
