// Delta transfer of a bundle (issue 12, `initos upgrade push` / `receive`):
// the device says which data blocks it already holds, the host sends only
// the others, the device assembles the new slot and verifies it exactly as
// a full `apply` does (signature first, then the whole hash tree).
//
// A block is named by the SHA-256 of its 4 KiB of data, unsalted: the
// verity leaf hashes are salted per bundle, so they would never match
// across versions built with different salts. Names are positions-free, so
// a block that moved (a file earlier in the image grew) still matches, and
// a block repeated in the new bundle (zeros) is sent once.
//
// Wire format, both directions: frames of [type u8][length u32 LE][payload].
//   host -> device  'H' hello: the new bundle's header area (manifest +
//                       signature), checked before anything is written
//   device -> host  'A' have: the block names it holds, 32 bytes each
//   host -> device  'B' blocks: ops, each 0x01 + name (copy a block the
//                       device has) or 0x02 + 4096 bytes (new data), in
//                       the order of the new bundle's data blocks
//   host -> device  'E' end of data
//   device -> host  'R' result: "ok" or one line saying why not
// Everything here is pure: the executors read and write the fds.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

inline constexpr size_t kDeltaBlockSize = 4096;
// A frame bigger than this is an attack or a bug, not a bundle.
inline constexpr uint32_t kMaxDeltaFrame = 16u << 20;

using BlockName = std::array<uint8_t, 32>;
BlockName NameBlock(std::string_view block);

enum class DeltaFrameType : char {
  kHello = 'H',
  kHave = 'A',
  kBlocks = 'B',
  kEnd = 'E',
  kResult = 'R',
};

struct DeltaFrame {
  DeltaFrameType type = DeltaFrameType::kEnd;
  std::string payload;
  bool operator==(const DeltaFrame&) const = default;
};

std::string EncodeDeltaFrame(const DeltaFrame& f);

// Accumulates bytes from a stream and returns whole frames. An unknown type
// or an oversized length is an error (the stream is then unusable).
class DeltaFrameReader {
 public:
  void Feed(std::string_view bytes) { buf_.append(bytes); }
  // nullopt: more bytes needed.
  Result<std::optional<DeltaFrame>> Next();
  size_t Buffered() const { return buf_.size(); }

 private:
  std::string buf_;
};

std::string EncodeHave(const std::set<BlockName>& have);
Result<std::set<BlockName>> DecodeHave(std::string_view payload);

// One op of a 'B' frame.
struct DeltaOp {
  bool local = false;  // true: copy the block named `name`
  BlockName name{};    // always set (the device checks data it receives too)
  std::string data;    // the block's bytes when !local
};

// Host side: the op for the next block of the new bundle. `sent` collects
// the names already sent in this transfer, so a repeat is a copy.
DeltaOp PlanBlock(std::string_view block, const std::set<BlockName>& have,
                  std::set<BlockName>& sent);
void AppendOp(std::string& payload, const DeltaOp& op);
// Device side: the ops of one 'B' payload. A truncated op or an unknown
// kind is an error.
Result<std::vector<DeltaOp>> DecodeOps(std::string_view payload);

struct DeltaStats {
  uint64_t blocks = 0;
  uint64_t local = 0;       // blocks the device copied from what it had
  uint64_t bytes_sent = 0;  // every byte of every frame the host wrote
};

}  // namespace format
}  // namespace initos
