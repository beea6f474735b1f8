#include "upgrade/delta_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <utility>

#include "base/file.h"
#include "base/log.h"
#include "image/bundle.h"

namespace initos {
inline namespace upgrade {

namespace {

constexpr size_t kOpsPerFrame = 256;  // 1 MiB of data at most per 'B' frame

Result<void> SendFrame(int fd, DeltaFrameType type, std::string_view payload,
                       uint64_t* sent = nullptr) {
  std::string bytes = EncodeDeltaFrame({type, std::string(payload)});
  if (sent) *sent += bytes.size();
  auto w = WriteFully(fd, bytes.data(), bytes.size());
  if (!w.ok()) return Wrap(w.error(), "delta stream");
  return {};
}

Result<DeltaFrame> ReadFrame(int fd, DeltaFrameReader& reader) {
  char buf[64 << 10];
  while (true) {
    auto f = reader.Next();
    if (!f.ok()) return f.error();
    if (*f) return std::move(**f);
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError() << "delta stream: read";
    if (n == 0) return Err() << "delta stream: the other side closed the connection";
    reader.Feed(std::string_view(buf, static_cast<size_t>(n)));
  }
}

// Where a block with a given name can be read on the device.
struct BlockSource {
  int fd;
  uint64_t offset;
};

class LocalBlocks {
 public:
  // Names every data block of every bundle found in `sources`.
  void Index(const std::vector<std::string>& sources) {
    for (const std::string& path : sources) {
      auto fd = OpenFile(path, O_RDONLY);
      if (!fd.ok()) continue;
      auto b = ReadBundle(fd->get());
      if (!b.ok()) {
        LOG(Info) << "upgrade: " << path << " holds no bundle (" << b.error().str()
                  << "); its blocks are not reused";
        continue;
      }
      IndexRange(fd->get(), b->manifest.data_offset, b->manifest.data_size);
      fds_.push_back(std::move(*fd));
    }
  }
  void Add(const BlockName& name, int fd, uint64_t offset) { map_.try_emplace(name, fd, offset); }
  std::set<BlockName> Names() const {
    std::set<BlockName> s;
    for (const auto& [name, src] : map_) s.insert(name);
    return s;
  }
  // The block's bytes, hashed again: what is on the disk now must still be
  // what was named.
  Result<std::string> Read(const BlockName& name) const {
    auto it = map_.find(name);
    if (it == map_.end()) return Err() << "delta: the host named a block this device does not have";
    std::string block(kDeltaBlockSize, '\0');
    ssize_t n =
        ::pread(it->second.fd, block.data(), block.size(), static_cast<off_t>(it->second.offset));
    if (n != static_cast<ssize_t>(block.size())) return ErrnoError() << "delta: read local block";
    if (NameBlock(block) != name)
      return Err() << "delta: a local block changed since it was named; run the push again";
    return block;
  }

 private:
  void IndexRange(int fd, uint64_t offset, uint64_t size) {
    std::string buf(kOpsPerFrame * kDeltaBlockSize, '\0');
    for (uint64_t at = 0; at < size; at += buf.size()) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at));
      ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + at));
      if (n != static_cast<ssize_t>(want)) return;
      for (size_t i = 0; i + kDeltaBlockSize <= want; i += kDeltaBlockSize)
        Add(NameBlock(std::string_view(buf).substr(i, kDeltaBlockSize)), fd, offset + at + i);
    }
  }
  std::vector<unique_fd> fds_;
  std::map<BlockName, BlockSource> map_;
};

// Receives 'B' frames until 'E', writing the data area of the staged bundle.
Result<void> Assemble(int in_fd, DeltaFrameReader& reader, const Manifest& m, int stage,
                      LocalBlocks& local) {
  uint64_t blocks = m.data_size / kDeltaBlockSize, i = 0;
  while (true) {
    auto f = ReadFrame(in_fd, reader);
    if (!f.ok()) return f.error();
    if (f->type == DeltaFrameType::kEnd) break;
    if (f->type != DeltaFrameType::kBlocks) return Err() << "delta: expected blocks";
    auto ops = DecodeOps(f->payload);
    if (!ops.ok()) return ops.error();
    for (DeltaOp& op : *ops) {
      if (i >= blocks) return Err() << "delta: more blocks than the manifest's " << blocks;
      if (op.local) {
        auto b = local.Read(op.name);
        if (!b.ok()) return b.error();
        op.data = std::move(*b);
      }
      uint64_t off = m.data_offset + i * kDeltaBlockSize;
      if (::pwrite(stage, op.data.data(), op.data.size(), static_cast<off_t>(off)) !=
          static_cast<ssize_t>(op.data.size()))
        return ErrnoError() << "delta: write staging file (disk full?)";
      local.Add(op.name, stage, off);
      ++i;
    }
  }
  if (i != blocks) return Err() << "delta: got " << i << " of " << blocks << " data blocks";
  return {};
}

Result<Manifest> Receive(int in_fd, int out_fd, const ApplyTarget& t,
                         const std::vector<std::string>& sources, BootStateFile& record) {
  DeltaFrameReader reader;
  auto hello = ReadFrame(in_fd, reader);
  if (!hello.ok()) return hello.error();
  if (hello->type != DeltaFrameType::kHello || hello->payload.size() != kBundleHeaderAreaSize)
    return Err() << "delta: expected the bundle header first";
  auto m = CheckBundleHeader(hello->payload, t);
  if (!m.ok()) return m.error();
  if (m->data_block_size != kDeltaBlockSize || m->data_size % kDeltaBlockSize != 0)
    return Err() << "delta: bundle data blocks are not " << kDeltaBlockSize << " bytes";
  if (auto l = record.Load(); !l.ok()) return l.error();
  LocalBlocks local;
  local.Index(sources);
  INITOS_TRY(SendFrame(out_fd, DeltaFrameType::kHave, EncodeHave(local.Names())));

  auto stage = StagingFile(t);
  if (!stage.ok()) return stage.error();
  uint64_t total = m->hash_offset + m->hash_size;
  if (::ftruncate(stage->get(), static_cast<off_t>(total)) != 0 ||
      ::pwrite(stage->get(), hello->payload.data(), hello->payload.size(), 0) !=
          static_cast<ssize_t>(hello->payload.size()))
    return ErrnoError() << "staging file in " << t.staging_dir << " (disk full?)";
  INITOS_TRY(Assemble(in_fd, reader, *m, stage->get(), local));
  // The tree is not sent: rebuilt from the data with the signed parameters,
  // it matches the signed root hash only if every block is right.
  auto params = VerityParamsFromManifest(*m);
  if (!params.ok()) return params.error();
  auto tree = BuildVerityTree(stage->get(), m->data_offset, m->data_size, stage->get(),
                              m->hash_offset, *params);
  if (!tree.ok()) return Wrap(tree.error(), "delta: rebuild hash tree");
  return InstallStaged(stage->get(), *m, t, record);
}

}  // namespace

Result<Manifest> ReceiveBundle(int in_fd, int out_fd, const ApplyTarget& t,
                               const std::vector<std::string>& sources, BootStateFile& record) {
  auto m = Receive(in_fd, out_fd, t, sources, record);
  std::string result = m.ok() ? "ok " + m->name + " version " + std::to_string(m->version) +
                                    " in slot " + std::string(SlotName(t.slot))
                              : m.error().str();
  (void)SendFrame(out_fd, DeltaFrameType::kResult, result);
  return m;
}

Result<DeltaStats> PushBundle(int bundle_fd, int to_device, int from_device,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  auto b = ReadBundle(bundle_fd);
  if (!b.ok()) return b.error();
  const Manifest& m = b->manifest;
  DeltaStats stats;
  std::string area(kBundleHeaderAreaSize, '\0');
  if (::pread(bundle_fd, area.data(), area.size(), 0) != static_cast<ssize_t>(area.size()))
    return ErrnoError() << "read bundle header";
  INITOS_TRY(SendFrame(to_device, DeltaFrameType::kHello, area, &stats.bytes_sent));
  DeltaFrameReader reader;
  auto have_frame = ReadFrame(from_device, reader);
  if (!have_frame.ok()) return have_frame.error();
  if (have_frame->type == DeltaFrameType::kResult)
    return Err() << "device refused the bundle: " << have_frame->payload;
  if (have_frame->type != DeltaFrameType::kHave) return Err() << "delta: expected the have list";
  auto have = DecodeHave(have_frame->payload);
  if (!have.ok()) return have.error();

  std::set<BlockName> sent;
  std::string payload, buf(kOpsPerFrame * kDeltaBlockSize, '\0');
  stats.blocks = m.data_size / kDeltaBlockSize;
  for (uint64_t at = 0; at < m.data_size; at += buf.size()) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), m.data_size - at));
    if (::pread(bundle_fd, buf.data(), want, static_cast<off_t>(m.data_offset + at)) !=
        static_cast<ssize_t>(want))
      return ErrnoError() << "read bundle data";
    payload.clear();
    for (size_t i = 0; i < want; i += kDeltaBlockSize) {
      DeltaOp op = PlanBlock(std::string_view(buf).substr(i, kDeltaBlockSize), *have, sent);
      if (op.local) ++stats.local;
      AppendOp(payload, op);
    }
    INITOS_TRY(SendFrame(to_device, DeltaFrameType::kBlocks, payload, &stats.bytes_sent));
    if (progress) progress((at + want) / kDeltaBlockSize, stats.blocks);
  }
  INITOS_TRY(SendFrame(to_device, DeltaFrameType::kEnd, "", &stats.bytes_sent));
  auto result = ReadFrame(from_device, reader);
  if (!result.ok()) return result.error();
  if (result->type != DeltaFrameType::kResult || result->payload.rfind("ok", 0) != 0)
    return Err() << "device: " << result->payload;
  return stats;
}

}  // namespace upgrade
}  // namespace initos
