#include "jail/control_protocol.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(JailControlProtocolTest, RequestsRoundTrip) {
  JailRequest r{JailVerb::kExec, "debian", false, {"/bin/sh", "-c", "echo a b"}};
  auto d = DecodeRequest(EncodeRequest(r));
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(*d, r);
  JailRequest l{JailVerb::kLogs, "web", true, {}};
  EXPECT_EQ(*DecodeRequest(EncodeRequest(l)), l);
}

TEST(JailControlProtocolTest, MalformedRequestsAreRefused) {
  EXPECT_FALSE(DecodeRequest("").ok());
  EXPECT_FALSE(DecodeRequest(std::string("format\0x\0"
                                         "0",
                                         10))
                   .ok());
  EXPECT_FALSE(DecodeRequest(std::string("stop\0\0"
                                         "0",
                                         7))
                   .ok());  // no name
  EXPECT_FALSE(DecodeRequest(std::string("exec\0web\0"
                                         "0",
                                         10))
                   .ok());  // no command
}

TEST(JailControlProtocolTest, RootMayDoEverythingGroupMembersOnlyRead) {
  JailPeer root{0, 0, {}};
  JailPeer member{1000, 1000, {27, 990}};
  JailPeer primary{1001, 990, {}};
  JailPeer other{1002, 1002, {27}};
  for (JailVerb v : {JailVerb::kList, JailVerb::kStatus, JailVerb::kLogs}) {
    JailRequest r{v, "web", false, {}};
    EXPECT_TRUE(AuthorizeRequest(r, root, 990).ok());
    EXPECT_TRUE(AuthorizeRequest(r, member, 990).ok());
    EXPECT_TRUE(AuthorizeRequest(r, primary, 990).ok());
    EXPECT_FALSE(AuthorizeRequest(r, other, 990).ok());
    EXPECT_FALSE(AuthorizeRequest(r, member, -1).ok());
  }
  for (JailVerb v : {JailVerb::kExec, JailVerb::kStop, JailVerb::kStart, JailVerb::kRestart,
                     JailVerb::kConsole}) {
    JailRequest r{v, "web", false, {"/bin/true"}};
    EXPECT_TRUE(AuthorizeRequest(r, root, 990).ok());
    auto denied = AuthorizeRequest(r, member, 990);
    ASSERT_FALSE(denied.ok());
    EXPECT_NE(denied.error().str().find("may only list, status and logs"), std::string::npos);
  }
}

TEST(JailControlProtocolTest, FramesSurviveSplitting) {
  std::string wire = Frame('o', "hello") + Frame('e', "bad") + ExitFrame(3);
  std::string buf;
  std::vector<DecodedFrame> got;
  for (char c : wire) {  // one byte at a time, as a slow socket might deliver
    buf += c;
    for (auto& f : TakeFrames(buf)) got.push_back(f);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, 'o');
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[1].payload, "bad");
  EXPECT_EQ(got[2].type, 'x');
  EXPECT_EQ(got[2].payload, std::string("\3\0\0\0", 4));
  EXPECT_TRUE(buf.empty());
}

TEST(JailControlProtocolTest, SupplementaryGroupsFromProcStatus) {
  EXPECT_EQ(ParseStatusGroups("Name:\tsh\nUid:\t0\nGroups:\t10 27 1000 \nNgid:\t0\n"),
            (std::vector<gid_t>{10, 27, 1000}));
  EXPECT_TRUE(ParseStatusGroups("Name:\tsh\nGroups:\t\n").empty());
}

}  // namespace
}  // namespace initos
