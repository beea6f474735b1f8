// dm-verity hash tree writer/checker. The layout follows the kernel's
// Documentation/admin-guide/device-mapper/verity.rst and what `veritysetup
// format` writes (format type 1):
//
//   hash_offset:  512-byte superblock, zero padded up to a hash block boundary
//   then:         the hash levels, top level (one block) first, level 0 (the
//                 hashes of the data blocks) last.
//
// Every hash is H(salt || block). A hash block holds 2^k digests, each in a
// slot of digest_size rounded up to a power of two; unused bytes are zero.
// The tree is ~1/128 of the data (sha256, 4 KiB blocks), so it is built in
// memory and written with a single pass of pwrite.
#include "format/verity.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "format/sha256_x2.h"

namespace initos {
inline namespace format {
namespace {

constexpr uint64_t kSuperblockSize = 512;
constexpr size_t kMaxSaltSize = 256;  // size of the salt field in the superblock
constexpr size_t kAlgorithmFieldSize = 32;
constexpr uint32_t kMinBlockSize = 512;
constexpr uint32_t kMaxBlockSize = 512 * 1024;
constexpr int kMaxLevels = 63;
// Data is hashed in chunks this big: large enough that the madvise or pread
// per chunk costs nothing next to hashing it (~0.5 ms), small enough
// that the thread taking the last chunk keeps the other one waiting little,
// and that a pread buffer stays in the L2 cache.
constexpr uint64_t kChunkBytes = 1 << 20;

bool IsPowerOfTwo(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

unsigned Log2Floor(uint64_t v) {
  unsigned bits = 0;
  while ((v >> bits) > 1) bits++;
  return bits;
}

unsigned Log2Ceil(uint64_t v) {
  unsigned bits = 0;
  while ((uint64_t{1} << bits) < v) bits++;
  return bits;
}

Error DigestFailed() {
  return Err() << "OpenSSL digest computation failed";
}

struct MdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct CtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Computes H(salt || block) with one reusable context. The digest is fetched
// once explicitly: implicit fetches per EVP_DigestInit cost a lock + lookup.
// SHA-256 on a CPU with the SHA extensions hashes two blocks at a time
// (format/sha256_x2.h: ~1.15x the blocks per CPU second of OpenSSL's one at
// a time, docs/performance.md).
class Hasher {
 public:
  static Result<Hasher> Create(const std::string& algorithm, const std::vector<uint8_t>& salt) {
    Hasher h;
    h.salt_ = salt;
    if (HaveSha256x2() && strcasecmp(algorithm.c_str(), "sha256") == 0) {
      // Nothing from OpenSSL needed: not fetching skips its initialisation
      // on first use (name tables, config file: ~1.5 ms of CPU before the
      // hashing threads start).
      h.size_ = 32;
      h.two_at_once_ = true;
      return h;
    }
    h.md_.reset(EVP_MD_fetch(nullptr, algorithm.c_str(), nullptr));
    if (!h.md_) {
      return Err() << "unknown hash algorithm '" << algorithm
                   << "' (use an OpenSSL digest name such as sha256 or sha512)";
    }
    if (EVP_MD_get_flags(h.md_.get()) & EVP_MD_FLAG_XOF) {
      return Err() << "hash algorithm '" << algorithm << "' is an XOF; use a fixed-size digest";
    }
    h.ctx_.reset(EVP_MD_CTX_new());
    if (!h.ctx_) return Err() << "out of memory creating a digest context";
    h.size_ = static_cast<uint32_t>(EVP_MD_get_size(h.md_.get()));
    h.two_at_once_ = HaveSha256x2() && EVP_MD_is_a(h.md_.get(), "SHA2-256");
    return h;
  }

  uint32_t size() const { return size_; }

  // out must have room for size() bytes.
  bool Hash(const uint8_t* data, size_t len, uint8_t* out) {
    if (!ctx_) {  // SHA-256 without OpenSSL: one message twice costs little more than once
      uint8_t unused[32];
      Sha256Prefixed2x(salt_.data(), salt_.size(), data, data, len, out, unused);
      return true;
    }
    EVP_MD_CTX* c = ctx_.get();
    return EVP_DigestInit_ex2(c, md_.get(), nullptr) == 1 &&
           (salt_.empty() || EVP_DigestUpdate(c, salt_.data(), salt_.size()) == 1) &&
           EVP_DigestUpdate(c, data, len) == 1 && EVP_DigestFinal_ex(c, out, nullptr) == 1;
  }

  // Hashes count blocks of len bytes laid out back to back from data and
  // calls on_digest(i, digest) for each in order; stops at its first error.
  template <typename OnDigest>
  Result<void> HashBlocks(const uint8_t* data, uint64_t count, size_t len, OnDigest on_digest) {
    uint8_t d[2][EVP_MAX_MD_SIZE];
    uint64_t i = 0;
    if (two_at_once_) {
      for (; i + 1 < count; i += 2) {
        Sha256Prefixed2x(salt_.data(), salt_.size(), data + i * len, data + (i + 1) * len, len,
                         d[0], d[1]);
        INITOS_TRY(on_digest(i, d[0]));
        INITOS_TRY(on_digest(i + 1, d[1]));
      }
    }
    for (; i < count; i++) {
      if (!Hash(data + i * len, len, d[0])) return DigestFailed();
      INITOS_TRY(on_digest(i, d[0]));
    }
    return {};
  }

 private:
  std::unique_ptr<EVP_MD, MdDeleter> md_;
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
  std::vector<uint8_t> salt_;
  uint32_t size_ = 0;
  bool two_at_once_ = false;
};

// Where everything lives in the hash file. Level 0 holds the hashes of the
// data blocks; level levels-1 is the single top block the root hash covers.
struct Layout {
  uint64_t data_blocks = 0;
  uint32_t digest_size = 0;
  uint32_t slot_size = 0;  // digest_size rounded up to a power of two
  unsigned per_block_bits = 0;
  std::vector<uint64_t> level_blocks;  // hash blocks per level
  std::vector<uint64_t> level_offset;  // absolute byte offset of each level
  uint64_t area_end = 0;               // absolute end of the tree

  size_t levels() const { return level_blocks.size(); }
};

Result<void> CheckParams(const VerityParams& p) {
  for (auto [name, size] : {std::pair{"data block size", p.data_block_size},
                            std::pair{"hash block size", p.hash_block_size}}) {
    if (!IsPowerOfTwo(size) || size < kMinBlockSize || size > kMaxBlockSize) {
      return Err() << "verity " << name << " " << size
                   << " is invalid: use a power of two between 512 and 524288";
    }
  }
  if (p.salt.size() > kMaxSaltSize) {
    return Err() << "verity salt is " << p.salt.size() << " bytes; at most " << kMaxSaltSize
                 << " fit in the superblock";
  }
  if (p.algorithm.empty() || p.algorithm.size() >= kAlgorithmFieldSize) {
    return Err() << "verity algorithm name '" << p.algorithm << "' must be 1-"
                 << kAlgorithmFieldSize - 1 << " characters";
  }
  return {};
}

// Pure arithmetic; matches veritysetup's placement for any 512-aligned offset.
Result<Layout> ComputeLayout(uint64_t data_size, uint64_t hash_offset, const VerityParams& p,
                             uint32_t digest_size) {
  INITOS_TRY(CheckParams(p));
  if (data_size == 0) return Err() << "verity data is empty: nothing to hash";
  if (data_size % p.data_block_size != 0) {
    return Err() << "verity data size " << data_size << " is not a multiple of the data block size "
                 << p.data_block_size << "; pad the image";
  }
  if (hash_offset % kSuperblockSize != 0) {
    return Err() << "verity hash offset " << hash_offset << " is not a multiple of 512";
  }
  Layout l;
  l.data_blocks = data_size / p.data_block_size;
  l.digest_size = digest_size;
  l.slot_size = uint32_t{1} << Log2Ceil(digest_size);
  l.per_block_bits = Log2Floor(p.hash_block_size / digest_size);
  if (digest_size == 0 || l.per_block_bits == 0) {
    return Err() << "digest of " << digest_size << " bytes is too big for hash block size "
                 << p.hash_block_size;
  }
  // Each level has ceil(blocks below / 2^bits) blocks, until one block is left.
  for (uint64_t n = l.data_blocks; n > 1;) {
    n = (n + (uint64_t{1} << l.per_block_bits) - 1) >> l.per_block_bits;
    l.level_blocks.push_back(n);
    if (l.level_blocks.size() > kMaxLevels) return Err() << "verity tree would be too deep";
  }
  // The tree starts at the first hash block boundary after the superblock.
  const uint64_t hbs = p.hash_block_size;
  uint64_t pos = (hash_offset + kSuperblockSize + hbs - 1) / hbs;
  l.level_offset.resize(l.levels());
  for (size_t i = l.levels(); i-- > 0;) {
    l.level_offset[i] = pos * hbs;
    pos += l.level_blocks[i];
  }
  l.area_end = pos * hbs;
  return l;
}

// Offset of digest `index` within a level buffer.
uint64_t SlotOffset(const Layout& l, uint32_t hash_block_size, uint64_t index) {
  return (index >> l.per_block_bits) * hash_block_size +
         (index & ((uint64_t{1} << l.per_block_bits) - 1)) * l.slot_size;
}

void PutLe(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// struct verity_sb (all little endian):
//   0 signature[8]  8 version u32  12 hash_type u32  16 uuid[16]  32 algorithm[32]
//  64 data_block_size u32  68 hash_block_size u32  72 data_blocks u64
//  80 salt_size u16  82 pad[6]  88 salt[256]  344 pad[168]
constexpr uint8_t kSignature[8] = {'v', 'e', 'r', 'i', 't', 'y', 0, 0};

void EncodeSuperblock(const VerityParams& p, uint64_t data_blocks, uint8_t* sb) {
  std::memset(sb, 0, kSuperblockSize);
  std::memcpy(sb, kSignature, sizeof(kSignature));
  PutLe(sb + 8, 1, 4);   // version
  PutLe(sb + 12, 1, 4);  // hash_type: 1 = salt first, digests padded to 2^n
  std::memcpy(sb + 16, p.uuid.data(), p.uuid.size());
  std::memcpy(sb + 32, p.algorithm.data(), p.algorithm.size());
  PutLe(sb + 64, p.data_block_size, 4);
  PutLe(sb + 68, p.hash_block_size, 4);
  PutLe(sb + 72, data_blocks, 8);
  PutLe(sb + 80, p.salt.size(), 2);
  if (!p.salt.empty()) std::memcpy(sb + 88, p.salt.data(), p.salt.size());
}

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Checks that the on-disk superblock describes the tree the caller expects.
Result<void> CheckSuperblock(const uint8_t* sb, const VerityParams& p, uint64_t data_blocks) {
  auto bad = [](const auto&... why) -> Error {
    ErrorBuilder b(0);
    b << "bad verity superblock: ";
    (b << ... << why);
    return b;
  };
  if (std::memcmp(sb, kSignature, sizeof(kSignature)) != 0) return bad("no 'verity' signature");
  if (GetLe(sb + 8, 4) != 1) return bad("version ", GetLe(sb + 8, 4), ", expected 1");
  if (GetLe(sb + 12, 4) != 1) return bad("hash type ", GetLe(sb + 12, 4), ", expected 1");
  const bool uuid_set = std::any_of(p.uuid.begin(), p.uuid.end(), [](uint8_t b) { return b; });
  if (uuid_set && std::memcmp(sb + 16, p.uuid.data(), p.uuid.size()) != 0) {
    return bad("uuid differs");
  }
  std::string alg(reinterpret_cast<const char*>(sb + 32),
                  strnlen(reinterpret_cast<const char*>(sb + 32), kAlgorithmFieldSize));
  if (ToLower(alg) != ToLower(p.algorithm)) {
    return bad("algorithm '", alg, "', expected '", p.algorithm, "'");
  }
  if (GetLe(sb + 64, 4) != p.data_block_size) {
    return bad("data block size ", GetLe(sb + 64, 4), ", expected ", p.data_block_size);
  }
  if (GetLe(sb + 68, 4) != p.hash_block_size) {
    return bad("hash block size ", GetLe(sb + 68, 4), ", expected ", p.hash_block_size);
  }
  if (GetLe(sb + 72, 8) != data_blocks) {
    return bad("data blocks ", GetLe(sb + 72, 8), ", expected ", data_blocks);
  }
  const uint64_t salt_size = GetLe(sb + 80, 2);
  if (salt_size != p.salt.size() ||
      (salt_size && std::memcmp(sb + 88, p.salt.data(), salt_size) != 0)) {
    return bad("salt differs");
  }
  return {};
}

Result<void> PreadFully(int fd, uint8_t* buf, size_t len, uint64_t offset, const char* what) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError() << "reading verity " << what << " at offset " << offset + done;
    }
    if (n == 0) {
      return Err() << "short read of verity " << what << ": file ends at offset " << offset + done
                   << ", expected " << len - done << " more bytes";
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void> PwriteFully(int fd, const uint8_t* buf, size_t len, uint64_t offset) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError() << "writing verity hash tree at offset " << offset + done;
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

// The data, as the hashers see it. A regular file that covers the range is
// mapped read-only, so blocks are hashed straight from the page cache: copying
// them into a buffer with pread cost ~20% of the CPU time of the data pass
// (docs/performance.md). Each thread drops the page-table entries of a chunk
// once it is hashed (MADV_DONTNEED; the page cache keeps the pages), so their
// teardown is spread over the threads instead of one munmap of the whole
// file after they finish (10-40 ms for 256 MiB); a mapping per chunk did the
// same but its mmap/munmap serialised the threads on the mm lock. Anything
// else (a block device, a short file, a failed mmap) is read with pread into
// the thread's buffer. The files are the image tools' own inputs: one
// truncated by someone else while mapped would SIGBUS the tool.
class DataSource {
 public:
  // One thread's view of its current chunk.
  class View {
   public:
    View() = default;
    ~View() { Release(); }
    View(const View&) = delete;
    View& operator=(const View&) = delete;
    void Release() {
      if (mapped_) madvise(mapped_, mapped_len_, MADV_DONTNEED);
      mapped_ = nullptr;
    }

   private:
    friend class DataSource;
    std::vector<uint8_t> buf_;
    uint8_t* mapped_ = nullptr;  // page-aligned start of the chunk's pages
    size_t mapped_len_ = 0;
  };

  DataSource(int fd, uint64_t offset, uint64_t size) : fd_(fd), offset_(offset) {
    struct stat st {};
    if (size == 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) < offset + size) {
      return;
    }
    map_start_ = offset / page_ * page_;
    map_len_ = offset + size - map_start_;
    void* m = mmap(nullptr, map_len_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(map_start_));
    if (m == MAP_FAILED) return;
    map_ = static_cast<uint8_t*>(m);
    madvise(map_, map_len_, MADV_SEQUENTIAL);  // bigger readahead on a cold cache
  }
  ~DataSource() {
    if (map_) munmap(map_, map_len_);
  }
  DataSource(const DataSource&) = delete;
  DataSource& operator=(const DataSource&) = delete;

  // len bytes at pos (relative to the data start), valid until the next Get
  // or Release of the same view.
  Result<const uint8_t*> Get(uint64_t pos, size_t len, View& view) const {
    view.Release();
    const uint64_t at = offset_ + pos;
    if (map_) {
      const uint64_t page_start = at / page_ * page_;
      view.mapped_ = map_ + (page_start - map_start_);
      view.mapped_len_ = at + len - page_start;
      return static_cast<const uint8_t*>(map_ + (at - map_start_));
    }
    if (view.buf_.size() < len) view.buf_.resize(len);
    INITOS_TRY(PreadFully(fd_, view.buf_.data(), len, at, "data"));
    return static_cast<const uint8_t*>(view.buf_.data());
  }

 private:
  const uint64_t page_ = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  int fd_;
  uint64_t offset_;
  uint8_t* map_ = nullptr;
  uint64_t map_start_ = 0;  // file offset of map_[0]
  size_t map_len_ = 0;
};

unsigned ThreadCount(const VerityParams& p, uint64_t data_blocks) {
  unsigned n = p.threads ? p.threads : std::min(8u, std::thread::hardware_concurrency());
  // Below ~1 MiB per thread, thread start-up costs more than it saves.
  const uint64_t max_useful = std::max<uint64_t>(1, data_blocks * p.data_block_size / (1 << 20));
  return static_cast<unsigned>(std::clamp<uint64_t>(n, 1, max_useful));
}

// The data pass, the only part that scales with image size. The data is cut
// into chunks that the threads take from one counter, in order: a thread
// that loses its CPU to other work no longer leaves its whole range for last
// while the others idle (the ranges were fixed per thread before). Calls
// on_digest(index, digest) for every block (concurrently for different
// blocks) and returns the error of the lowest failing chunk, i.e. the first
// bad block in order: chunks below a failing one were all taken before it
// and still finish, chunks above it are skipped. Progress is reported by the
// caller's thread only, so callbacks need no locking.
template <typename OnDigest>
Result<void> HashDataBlocks(int fd, uint64_t offset, const Layout& l, const VerityParams& p,
                            const ProgressFn& progress, OnDigest on_digest) {
  const uint32_t bs = p.data_block_size;
  const uint64_t total = l.data_blocks;
  // Sequential hint: doubles kernel readahead, which matters for cold caches.
  posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(total * bs),
                POSIX_FADV_SEQUENTIAL);
  DataSource source(fd, offset, total * bs);
  const uint64_t per_chunk = std::max<uint64_t>(1, kChunkBytes / bs);
  const uint64_t chunks = (total + per_chunk - 1) / per_chunk;
  const unsigned threads = ThreadCount(p, total);

  std::atomic<uint64_t> next{0}, done{0};
  std::atomic<uint64_t> lowest_bad{UINT64_MAX};
  std::mutex mu;
  Result<void> first_error;  // of chunk lowest_bad, under mu
  auto fail = [&](uint64_t chunk, Result<void> r) {
    std::lock_guard<std::mutex> lock(mu);
    if (chunk < lowest_bad.load()) {
      lowest_bad = chunk;
      first_error = std::move(r);
    }
  };
  auto work = [&](const ProgressFn* report) {
    auto hasher = Hasher::Create(p.algorithm, p.salt);
    if (!hasher.ok()) return fail(0, hasher.error());
    DataSource::View view;
    for (uint64_t c; (c = next.fetch_add(1)) < chunks && c < lowest_bad.load();) {
      const uint64_t first = c * per_chunk;
      const uint64_t count = std::min(per_chunk, total - first);
      auto blocks = source.Get(first * bs, count * bs, view);
      if (!blocks.ok()) return fail(c, blocks.error());
      auto r = hasher->HashBlocks(*blocks, count, bs, [&](uint64_t i, const uint8_t* digest) {
        return on_digest(first + i, digest);
      });
      if (!r.ok()) return fail(c, std::move(r));
      const uint64_t now = done.fetch_add(count) + count;
      if (report && *report) (*report)(now, total);
    }
  };
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; t++) workers.emplace_back(work, nullptr);
  work(&progress);
  for (auto& w : workers) w.join();
  if (lowest_bad.load() != UINT64_MAX) return first_error;
  return {};
}

// Fills every level above 0 from the level below it. `area` is the whole
// hash area buffer, `base` the absolute offset of area[0].
Result<void> HashUpperLevels(Hasher& h, const Layout& l, uint32_t hbs, uint8_t* area,
                             uint64_t base) {
  for (size_t level = 1; level < l.levels(); level++) {
    const uint8_t* below = area + (l.level_offset[level - 1] - base);
    uint8_t* dst = area + (l.level_offset[level] - base);
    INITOS_TRY(h.HashBlocks(below, l.level_blocks[level - 1], hbs,
                            [&](uint64_t b, const uint8_t* digest) -> Result<void> {
                              std::memcpy(dst + SlotOffset(l, hbs, b), digest, l.digest_size);
                              return {};
                            }));
  }
  return {};
}

}  // namespace

Result<uint64_t> VerityTreeSize(uint64_t data_size, const VerityParams& params) {
  auto md =
      std::unique_ptr<EVP_MD, MdDeleter>(EVP_MD_fetch(nullptr, params.algorithm.c_str(), nullptr));
  if (!md) return Err() << "verity: unknown hash algorithm '" << params.algorithm << "'";
  auto layout = ComputeLayout(data_size, 0, params, EVP_MD_get_size(md.get()));
  if (!layout.ok()) return Wrap(layout.error(), "verity tree size");
  return layout->area_end;
}

Result<VerityTree> BuildVerityTree(int data_fd, uint64_t data_offset, uint64_t data_size,
                                   int hash_fd, uint64_t hash_offset, const VerityParams& params,
                                   const ProgressFn& progress) {
  auto hasher = Hasher::Create(params.algorithm, params.salt);
  if (!hasher.ok()) return hasher.error();
  auto layout_r = ComputeLayout(data_size, hash_offset, params, hasher->size());
  if (!layout_r.ok()) return layout_r.error();
  const Layout& l = *layout_r;
  const uint32_t hbs = params.hash_block_size;

  std::vector<uint8_t> area(l.area_end - hash_offset, 0);
  EncodeSuperblock(params, l.data_blocks, area.data());
  VerityTree tree;
  tree.data_blocks = l.data_blocks;
  tree.hash_size = area.size();
  tree.root_hash.resize(hasher->size());

  if (l.levels() == 0) {
    // A single data block: its hash is the root, no hash blocks exist.
    INITOS_TRY(HashDataBlocks(data_fd, data_offset, l, params, progress,
                              [&](uint64_t, const uint8_t* digest) -> Result<void> {
                                std::memcpy(tree.root_hash.data(), digest, hasher->size());
                                return {};
                              }));
  } else {
    uint8_t* level0 = area.data() + (l.level_offset[0] - hash_offset);
    // Threads write disjoint slots of level 0.
    INITOS_TRY(HashDataBlocks(data_fd, data_offset, l, params, progress,
                              [&](uint64_t index, const uint8_t* digest) -> Result<void> {
                                std::memcpy(level0 + SlotOffset(l, hbs, index), digest,
                                            hasher->size());
                                return {};
                              }));
    INITOS_TRY(HashUpperLevels(*hasher, l, hbs, area.data(), hash_offset));
    const uint8_t* top = area.data() + (l.level_offset[l.levels() - 1] - hash_offset);
    if (!hasher->Hash(top, hbs, tree.root_hash.data())) return DigestFailed();
  }
  INITOS_TRY(PwriteFully(hash_fd, area.data(), area.size(), hash_offset));
  return tree;
}

Result<void> VerifyVerityTree(int data_fd, uint64_t data_offset, uint64_t data_size, int hash_fd,
                              uint64_t hash_offset, const VerityParams& params,
                              const std::vector<uint8_t>& expected_root,
                              const ProgressFn& progress) {
  auto hasher = Hasher::Create(params.algorithm, params.salt);
  if (!hasher.ok()) return hasher.error();
  auto layout_r = ComputeLayout(data_size, hash_offset, params, hasher->size());
  if (!layout_r.ok()) return layout_r.error();
  const Layout& l = *layout_r;
  const uint32_t hbs = params.hash_block_size;
  const uint32_t ds = hasher->size();
  if (expected_root.size() != ds) {
    return Err() << "root hash is " << expected_root.size() << " bytes, but " << params.algorithm
                 << " digests are " << ds << " bytes";
  }

  std::vector<uint8_t> area(l.area_end - hash_offset);
  INITOS_TRY(PreadFully(hash_fd, area.data(), area.size(), hash_offset, "hash tree"));
  INITOS_TRY(CheckSuperblock(area.data(), params, l.data_blocks));
  std::vector<uint8_t> digest(ds);

  if (l.levels() == 0) {
    return HashDataBlocks(data_fd, data_offset, l, params, progress,
                          [&](uint64_t, const uint8_t* digest) -> Result<void> {
                            if (std::memcmp(digest, expected_root.data(), ds) != 0) {
                              return Err() << "verity mismatch: root hash mismatch (data block 0)";
                            }
                            return {};
                          });
  }

  // Top-down, so the error names the block that was actually altered: a
  // changed hash block fails against its (intact) parent before its children
  // are checked against it.
  const uint8_t* top = area.data() + (l.level_offset[l.levels() - 1] - hash_offset);
  if (!hasher->Hash(top, hbs, digest.data())) return DigestFailed();
  if (digest != expected_root) {
    return Err() << "verity mismatch: root hash mismatch (expected " << HexEncode(expected_root)
                 << ", top hash block gives " << HexEncode(digest) << ")";
  }
  for (size_t level = l.levels() - 1; level >= 1; level--) {
    const uint8_t* parent = area.data() + (l.level_offset[level] - hash_offset);
    const uint64_t below = l.level_offset[level - 1];
    INITOS_TRY(
        hasher->HashBlocks(area.data() + (below - hash_offset), l.level_blocks[level - 1], hbs,
                           [&](uint64_t b, const uint8_t* digest) -> Result<void> {
                             if (std::memcmp(digest, parent + SlotOffset(l, hbs, b), ds) != 0) {
                               return Err() << "verity mismatch: hash block at offset "
                                            << below + b * hbs << " (level " << level - 1 << ")";
                             }
                             return {};
                           }));
  }
  const uint8_t* level0 = area.data() + (l.level_offset[0] - hash_offset);
  return HashDataBlocks(data_fd, data_offset, l, params, progress,
                        [&](uint64_t index, const uint8_t* digest) -> Result<void> {
                          if (std::memcmp(digest, level0 + SlotOffset(l, hbs, index), ds) != 0) {
                            return Err() << "verity mismatch: data block " << index;
                          }
                          return {};
                        });
}

std::string HexEncode(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Result<std::vector<uint8_t>> HexDecode(const std::string& hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) {
    return Err() << "hex string has odd length " << hex.size() << "; every byte needs 2 digits";
  }
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); i++) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      const size_t pos = hi < 0 ? 2 * i : 2 * i + 1;
      return Err() << "invalid hex digit '" << hex[pos] << "' at position " << pos;
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace format
}  // namespace initos
