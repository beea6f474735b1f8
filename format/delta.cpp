#include "format/delta.h"

#include <openssl/evp.h>

#include <cstring>

namespace initos {
inline namespace format {

namespace {

constexpr char kOpLocal = 0x01;
constexpr char kOpData = 0x02;

bool KnownType(char t) {
  switch (static_cast<DeltaFrameType>(t)) {
    case DeltaFrameType::kHello:
    case DeltaFrameType::kHave:
    case DeltaFrameType::kBlocks:
    case DeltaFrameType::kEnd:
    case DeltaFrameType::kResult:
      return true;
  }
  return false;
}

BlockName NameAt(std::string_view bytes) {
  BlockName n;
  std::memcpy(n.data(), bytes.data(), n.size());
  return n;
}

}  // namespace

BlockName NameBlock(std::string_view block) {
  BlockName n{};
  unsigned int len = 0;
  EVP_Digest(block.data(), block.size(), n.data(), &len, EVP_sha256(), nullptr);
  return n;
}

std::string EncodeDeltaFrame(const DeltaFrame& f) {
  std::string out(1, static_cast<char>(f.type));
  uint32_t len = static_cast<uint32_t>(f.payload.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += f.payload;
  return out;
}

Result<std::optional<DeltaFrame>> DeltaFrameReader::Next() {
  if (buf_.size() < 5) return std::optional<DeltaFrame>();
  if (!KnownType(buf_[0]))
    return Err() << "delta stream: unknown frame type 0x" << std::hex
                 << static_cast<int>(static_cast<uint8_t>(buf_[0]))
                 << " (is the other side an initos of the same protocol?)";
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i)
    len |= static_cast<uint32_t>(static_cast<uint8_t>(buf_[1 + i])) << (8 * i);
  if (len > kMaxDeltaFrame)
    return Err() << "delta stream: frame of " << len << " bytes exceeds the " << kMaxDeltaFrame
                 << "-byte limit";
  if (buf_.size() < 5 + static_cast<size_t>(len)) return std::optional<DeltaFrame>();
  DeltaFrame f{static_cast<DeltaFrameType>(buf_[0]), buf_.substr(5, len)};
  buf_.erase(0, 5 + static_cast<size_t>(len));
  return std::optional<DeltaFrame>(std::move(f));
}

std::string EncodeHave(const std::set<BlockName>& have) {
  std::string out;
  out.reserve(have.size() * 32);
  for (const BlockName& n : have) out.append(reinterpret_cast<const char*>(n.data()), n.size());
  return out;
}

Result<std::set<BlockName>> DecodeHave(std::string_view payload) {
  if (payload.size() % 32 != 0)
    return Err() << "delta have list: " << payload.size()
                 << " bytes is not a whole number of names";
  std::set<BlockName> have;
  for (size_t i = 0; i < payload.size(); i += 32) have.insert(NameAt(payload.substr(i)));
  return have;
}

DeltaOp PlanBlock(std::string_view block, const std::set<BlockName>& have,
                  std::set<BlockName>& sent) {
  DeltaOp op;
  op.name = NameBlock(block);
  op.local = have.count(op.name) > 0 || sent.count(op.name) > 0;
  if (!op.local) {
    op.data = std::string(block);
    sent.insert(op.name);
  }
  return op;
}

void AppendOp(std::string& payload, const DeltaOp& op) {
  if (op.local) {
    payload.push_back(kOpLocal);
    payload.append(reinterpret_cast<const char*>(op.name.data()), op.name.size());
  } else {
    payload.push_back(kOpData);
    payload += op.data;
  }
}

Result<std::vector<DeltaOp>> DecodeOps(std::string_view payload) {
  std::vector<DeltaOp> ops;
  size_t i = 0;
  while (i < payload.size()) {
    char kind = payload[i++];
    DeltaOp op;
    if (kind == kOpLocal) {
      if (payload.size() - i < 32) return Err() << "delta blocks: truncated copy op";
      op.local = true;
      op.name = NameAt(payload.substr(i));
      i += 32;
    } else if (kind == kOpData) {
      if (payload.size() - i < kDeltaBlockSize) return Err() << "delta blocks: truncated data op";
      op.data = std::string(payload.substr(i, kDeltaBlockSize));
      op.name = NameBlock(op.data);
      i += kDeltaBlockSize;
    } else {
      return Err() << "delta blocks: unknown op " << static_cast<int>(kind);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace format
}  // namespace initos
