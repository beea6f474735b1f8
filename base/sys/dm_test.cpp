#include "base/sys/dm.h"

#include <gtest/gtest.h>
#include <linux/dm-ioctl.h>

#include <cstring>

namespace initos {
namespace {

dm_ioctl Header(const std::vector<uint8_t>& buf) {
  dm_ioctl io;
  std::memcpy(&io, buf.data(), sizeof(io));
  return io;
}

TEST(DmBufferTest, TableLoadLaysOutAlignedSpecs) {
  std::vector<DmTarget> targets = {{0, 8, "linear", "7:0 0"}, {8, 16, "zero", ""}};
  auto buf = BuildDmTableLoad("root", targets, DM_READONLY_FLAG);
  ASSERT_TRUE(buf.ok()) << buf.error().str();
  dm_ioctl io = Header(*buf);
  EXPECT_EQ(io.version[0], 4u);
  EXPECT_EQ(io.data_size, buf->size());
  EXPECT_EQ(io.data_start, sizeof(dm_ioctl));
  EXPECT_EQ(io.target_count, 2u);
  EXPECT_EQ(io.flags, uint32_t{DM_READONLY_FLAG});
  EXPECT_STREQ(io.name, "root");

  dm_target_spec first;
  std::memcpy(&first, buf->data() + io.data_start, sizeof(first));
  EXPECT_EQ(first.sector_start, 0u);
  EXPECT_EQ(first.length, 8u);
  EXPECT_STREQ(first.target_type, "linear");
  EXPECT_EQ(first.next % 8, 0u);
  EXPECT_STREQ(reinterpret_cast<const char*>(buf->data()) + io.data_start + sizeof(first), "7:0 0");
  // On load, `next` is relative to the current spec.
  dm_target_spec second;
  size_t off2 = io.data_start + first.next;
  ASSERT_LE(off2 + sizeof(second), buf->size());
  std::memcpy(&second, buf->data() + off2, sizeof(second));
  EXPECT_EQ(second.sector_start, 8u);
  EXPECT_STREQ(second.target_type, "zero");
  EXPECT_EQ(buf->size() % 8, 0u);
}

TEST(DmBufferTest, RejectsBadNamesAndTargets) {
  EXPECT_FALSE(BuildDmTableLoad("a/b", {{0, 8, "zero", ""}}, 0).ok());
  EXPECT_FALSE(BuildDmTableLoad(std::string(200, 'x'), {{0, 8, "zero", ""}}, 0).ok());
  EXPECT_FALSE(BuildDmTableLoad("root", {}, 0).ok());
  EXPECT_FALSE(BuildDmTableLoad("root", {{0, 0, "zero", ""}}, 0).ok());
  EXPECT_FALSE(BuildDmTableLoad("root", {{0, 8, std::string(20, 't'), ""}}, 0).ok());
}

// A status reply as the kernel writes it: `next` relative to the first spec.
std::vector<uint8_t> StatusReply(const std::vector<DmTarget>& targets) {
  auto buf = *BuildDmHeader("root", "", 0, 4096);
  dm_ioctl io = Header(buf);
  io.target_count = static_cast<uint32_t>(targets.size());
  std::memcpy(buf.data(), &io, sizeof(io));
  size_t rel = 0;
  for (const auto& t : targets) {
    dm_target_spec spec{};
    spec.sector_start = t.start;
    spec.length = t.length;
    std::strcpy(spec.target_type, t.type.c_str());
    size_t len = (sizeof(spec) + t.params.size() + 1 + 7) & ~size_t{7};
    spec.next = static_cast<uint32_t>(rel + len);
    std::memcpy(buf.data() + io.data_start + rel, &spec, sizeof(spec));
    std::memcpy(buf.data() + io.data_start + rel + sizeof(spec), t.params.c_str(),
                t.params.size() + 1);
    rel += len;
  }
  return buf;
}

TEST(DmBufferTest, ParsesStatusReply) {
  auto targets = ParseDmTargets(StatusReply({{0, 2048, "verity", "V"}, {2048, 8, "zero", ""}}));
  ASSERT_TRUE(targets.ok()) << targets.error().str();
  ASSERT_EQ(targets->size(), 2u);
  EXPECT_EQ((*targets)[0].type, "verity");
  EXPECT_EQ((*targets)[0].params, "V");
  EXPECT_EQ((*targets)[0].length, 2048u);
  EXPECT_EQ((*targets)[1].type, "zero");
  EXPECT_EQ((*targets)[1].start, 2048u);
}

TEST(DmBufferTest, MalformedStatusIsAnError) {
  auto reply = StatusReply({{0, 2048, "verity", "C"}});
  dm_ioctl io = Header(reply);
  io.target_count = 5;  // claims more specs than the buffer holds
  io.data_size = 400;
  std::memcpy(reply.data(), &io, sizeof(io));
  EXPECT_FALSE(ParseDmTargets(reply).ok());
  EXPECT_FALSE(ParseDmTargets(std::vector<uint8_t>(10)).ok());
}

}  // namespace
}  // namespace initos
