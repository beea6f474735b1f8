#include "boot/rootfs/persistent_dirs.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

TEST(PersistentDirs, EscapeIsOneNameAndInjective) {
  EXPECT_EQ(EscapePersistentDir("/var"), "var");
  EXPECT_EQ(EscapePersistentDir("/var/lib/x"), "var%2flib%2fx");
  // "/a%2fb" and "/a/b" must not share a layer.
  EXPECT_EQ(EscapePersistentDir("/a%2fb"), "a%252fb");
  EXPECT_NE(EscapePersistentDir("/a%2fb"), EscapePersistentDir("/a/b"));
  EXPECT_EQ(EscapePersistentDir("/a:b"), "a%3ab");
  EXPECT_EQ(EscapePersistentDir("/var").find('/'), std::string::npos);
}

TEST(PersistentDirs, PlanIsSortedAndNoexecUnlessAllowed) {
  auto plan = PlanPersistentMounts({"/var/lib", "/home", "/var"}, {"/var/lib"});
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0], (PersistentMount{"/home", "home", true}));
  EXPECT_EQ(plan[1], (PersistentMount{"/var", "var", true}));
  EXPECT_EQ(plan[2], (PersistentMount{"/var/lib", "var%2flib", false}));
  EXPECT_TRUE(PlanPersistentMounts({}, {}).empty());
}

}  // namespace
}  // namespace initos
