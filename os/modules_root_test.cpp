// Loads real kernel modules into the running kernel: only as root and only
// when the host's own modules (matching uname -r) are installed. The modules
// chosen (loop, dm-mod) are harmless to load and commonly already loaded.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/require.h"
#include "base/testing/test_util.h"
#include "os/modules.h"

namespace initos {
namespace {

std::string HostModulesRoot() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  std::string root = std::string("/lib/modules/") + u.release;
  struct stat st;
  return ::stat((root + "/modules.dep").c_str(), &st) == 0 ? root : "";
}

TEST(ModulesRoot, LoadsRealModuleTwice) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string root = HostModulesRoot();
  if (root.empty()) INITOS_KERNEL_FEATURE_MISSING() << "no modules for the running kernel";
  auto first = LoadModules(root, {"loop", "dm-mod"});
  ASSERT_TRUE(first.ok()) << first.error().str();
  // Now certainly loaded (or built in): a second load is not an error.
  auto second = LoadModules(root, {"loop", "dm-mod"});
  EXPECT_TRUE(second.ok()) << second.error().str();
  struct stat st;
  EXPECT_EQ(::stat("/sys/module/loop", &st), 0);
}

TEST(ModulesRoot, GarbageModuleIsRejectedWithItsPath) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  testutil::TempDir tmp;
  ASSERT_TRUE(WriteStringToFile(tmp / "modules.dep", "kernel/junk.ko:\n").ok());
  ASSERT_TRUE(MakeDirs(tmp / "kernel").ok());
  ASSERT_TRUE(WriteStringToFile(tmp / "kernel/junk.ko", "this is not an ELF module").ok());
  auto r = LoadModules(tmp.path(), {"junk"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("kernel/junk.ko"), std::string::npos) << r.error().str();
}

}  // namespace
}  // namespace initos
