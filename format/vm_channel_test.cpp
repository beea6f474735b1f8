#include "format/vm_channel.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(VmChannel, FrameRoundTripsByteByByte) {
  VmFrame f{VmFrameType::kStdout, std::string("hello\0world", 11)};
  auto enc = EncodeVmFrame(f);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->size(), kVmFrameHeaderSize + 11);
  EXPECT_EQ((*enc)[0], 'O');
  std::string buf;
  for (size_t i = 0; i + 1 < enc->size(); ++i) {
    buf.push_back((*enc)[i]);
    auto d = DecodeVmFrame(buf);
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->has_value()) << "complete after " << i + 1 << " bytes";
  }
  buf.push_back(enc->back());
  buf += "X";  // the next frame's first byte stays in the buffer
  auto d = DecodeVmFrame(buf);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ(**d, f);
  EXPECT_EQ(buf, "X");
}

TEST(VmChannel, RefusesUnknownTypeAndOversizedFrames) {
  std::string buf = "Z";
  EXPECT_FALSE(DecodeVmFrame(buf).ok());
  buf = std::string("O\x00\x01\x00\x01", 5);  // 65537 bytes
  auto d = DecodeVmFrame(buf);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().str().find("maximum"), std::string::npos);
  EXPECT_FALSE(EncodeVmFrame({VmFrameType::kStdin, std::string(kVmFrameMaxPayload + 1, 'a')}).ok());
}

TEST(VmChannel, ArgvAndExit) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "echo a b", ""};
  auto back = DecodeVmArgv(EncodeVmArgv(argv));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, argv);
  EXPECT_FALSE(DecodeVmArgv("").ok());
  EXPECT_FALSE(DecodeVmArgv("abc").ok());
  EXPECT_FALSE(DecodeVmArgv(std::string("\0", 1)).ok());
  auto st = DecodeVmExit(EncodeVmExit(3 << 8));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, 3 << 8);
  EXPECT_FALSE(DecodeVmExit("abc").ok());
}

TEST(VmChannel, ReadyLine) {
  auto r = DecodeVmReady(EncodeVmReady("web-1", 42));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->jail_name, "web-1");
  EXPECT_EQ(r->version, 42u);
  EXPECT_FALSE(DecodeVmReady("READY web\n").ok());
  EXPECT_FALSE(DecodeVmReady("READY ../x 1\n").ok());
  EXPECT_FALSE(DecodeVmReady("READY web 1x\n").ok());
  EXPECT_FALSE(DecodeVmReady("HELLO web 1\n").ok());
  EXPECT_FALSE(DecodeVmReady("READY web 1").ok());
}

}  // namespace
}  // namespace initos
