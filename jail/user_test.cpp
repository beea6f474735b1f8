#include "jail/user.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# comment\n"
    "www-data:x:33:33:www:/var/www:/usr/sbin/nologin\n"
    "app:x:1000:1001::/home/app:/bin/sh\n";
constexpr const char* kGroup = "root:x:0:\nwww-data:x:33:\nstaff:x:50:app\n";

TEST(UserTest, NumbersNeedNoDatabase) {
  auto ids = ResolveJailIds("1234", "99", "", "");
  ASSERT_TRUE(ids.ok()) << ids.error().str();
  EXPECT_EQ(*ids, (JailIds{1234, 99}));
}

TEST(UserTest, NamesResolveFromTheJailsFiles) {
  auto ids = ResolveJailIds("www-data", "staff", kPasswd, kGroup);
  ASSERT_TRUE(ids.ok()) << ids.error().str();
  EXPECT_EQ(*ids, (JailIds{33, 50}));
}

TEST(UserTest, EmptyGroupIsThePrimaryGroup) {
  auto ids = ResolveJailIds("app", "", kPasswd, kGroup);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (JailIds{1000, 1001}));
  ids = ResolveJailIds("1000", "", kPasswd, kGroup);  // numeric, still in passwd
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (JailIds{1000, 1001}));
  ids = ResolveJailIds("4242", "", kPasswd, kGroup);  // unknown number: same gid
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (JailIds{4242, 4242}));
}

TEST(UserTest, UnknownNamesAreErrors) {
  auto ids = ResolveJailIds("nobody", "", kPasswd, kGroup);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.error().str(),
            "user nobody not in the jail's /etc/passwd; add it there or give a number");
  ids = ResolveJailIds("app", "wheel", kPasswd, kGroup);
  ASSERT_FALSE(ids.ok());
  EXPECT_NE(ids.error().str().find("group wheel not in the jail's /etc/group"), std::string::npos);
  // A prefix of a name is not the name.
  EXPECT_FALSE(ResolveJailIds("www", "", kPasswd, kGroup).ok());
  EXPECT_FALSE(ResolveJailIds("12a", "", kPasswd, kGroup).ok());
}

}  // namespace
}  // namespace initos
