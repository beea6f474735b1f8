#include "format/delta.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

std::string Block(char fill) {
  return std::string(kDeltaBlockSize, fill);
}

TEST(DeltaTest, FramesSurviveAnySplitOfTheStream) {
  std::string stream = EncodeDeltaFrame({DeltaFrameType::kHello, "header"}) +
                       EncodeDeltaFrame({DeltaFrameType::kEnd, ""}) +
                       EncodeDeltaFrame({DeltaFrameType::kResult, "ok"});
  for (size_t step = 1; step <= stream.size(); ++step) {
    DeltaFrameReader r;
    std::vector<DeltaFrame> got;
    for (size_t i = 0; i < stream.size(); i += step) {
      r.Feed(std::string_view(stream).substr(i, step));
      while (true) {
        auto f = r.Next();
        ASSERT_TRUE(f.ok());
        if (!*f) break;
        got.push_back(**f);
      }
    }
    ASSERT_EQ(got.size(), 3u) << "step " << step;
    EXPECT_EQ(got[0], (DeltaFrame{DeltaFrameType::kHello, "header"}));
    EXPECT_EQ(got[2].payload, "ok");
  }
}

TEST(DeltaTest, UnknownTypeAndOversizedFrameAreErrors) {
  DeltaFrameReader r;
  r.Feed(std::string("Z\0\0\0\0", 5));
  EXPECT_FALSE(r.Next().ok());
  DeltaFrameReader big;
  big.Feed(std::string("B\xff\xff\xff\xff", 5));
  auto f = big.Next();
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().str().find("limit"), std::string::npos);
}

TEST(DeltaTest, HaveListRoundTripsAndRejectsPartialNames) {
  std::set<BlockName> have = {NameBlock(Block('a')), NameBlock(Block('b'))};
  auto d = DecodeHave(EncodeHave(have));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, have);
  EXPECT_FALSE(DecodeHave(std::string(33, 'x')).ok());
}

// The plan sends what the device lacks once, and copies everything else:
// a block it has, and a block repeated within the new bundle.
TEST(DeltaTest, OnlyMissingBlocksAreSentAndRepeatsOnce) {
  std::set<BlockName> have = {NameBlock(Block('a'))};
  std::set<BlockName> sent;
  std::string payload;
  std::vector<std::string> blocks = {Block('a'), Block('z'), Block('z'), Block('a'), Block('q')};
  for (const std::string& b : blocks) AppendOp(payload, PlanBlock(b, have, sent));
  EXPECT_EQ(payload.size(), 3 * 33 + 2 * (1 + kDeltaBlockSize));
  auto ops = DecodeOps(payload);
  ASSERT_TRUE(ops.ok()) << ops.error().str();
  ASSERT_EQ(ops->size(), blocks.size());
  EXPECT_TRUE((*ops)[0].local);
  EXPECT_FALSE((*ops)[1].local);
  EXPECT_EQ((*ops)[1].data, Block('z'));
  EXPECT_TRUE((*ops)[2].local);
  EXPECT_EQ((*ops)[2].name, NameBlock(Block('z')));
  EXPECT_FALSE((*ops)[4].local);
  for (size_t i = 0; i < blocks.size(); ++i) EXPECT_EQ((*ops)[i].name, NameBlock(blocks[i]));
}

TEST(DeltaTest, TruncatedOrUnknownOpsAreErrors) {
  std::string payload;
  std::set<BlockName> have, sent;
  AppendOp(payload, PlanBlock(Block('x'), have, sent));
  EXPECT_FALSE(DecodeOps(payload.substr(0, 100)).ok());
  EXPECT_FALSE(DecodeOps(std::string(1, '\x07')).ok());
  EXPECT_FALSE(DecodeOps(std::string("\x01short", 6)).ok());
}

}  // namespace
}  // namespace initos
