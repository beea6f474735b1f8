#include "boot/initramfs_shutdown.h"

#include <gtest/gtest.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/file.h"
#include "boot/shutdown.h"

namespace initos {
namespace {

TEST(ParseShutdownKind, AcceptsSystemdVerbs) {
  EXPECT_EQ(*ParseShutdownKind("poweroff"), ShutdownKind::kPoweroff);
  EXPECT_EQ(*ParseShutdownKind("reboot"), ShutdownKind::kReboot);
  EXPECT_EQ(*ParseShutdownKind("halt"), ShutdownKind::kHalt);
  EXPECT_EQ(*ParseShutdownKind("kexec"), ShutdownKind::kKexec);
  EXPECT_EQ(RebootCommand(ShutdownKind::kPoweroff), RB_POWER_OFF);
  EXPECT_EQ(RebootCommand(ShutdownKind::kReboot), RB_AUTOBOOT);
  EXPECT_EQ(RebootCommand(ShutdownKind::kHalt), RB_HALT_SYSTEM);
  EXPECT_EQ(RebootCommand(ShutdownKind::kKexec), RB_KEXEC);
  EXPECT_EQ(ShutdownKindName(ShutdownKind::kKexec), "kexec");
}

TEST(ParseShutdownKind, RefusesOthersNamingTheChoices) {
  auto r = ParseShutdownKind("--log-level");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("'--log-level'"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().str().find("poweroff, reboot, halt or kexec"), std::string::npos);
  EXPECT_FALSE(ParseShutdownKind("").ok());
}

// What /proc/self/mountinfo looks like in /run/initramfs after systemd's
// pivot: the old OS root with the verified stack below /oldroot.
constexpr const char kAfterPivot[] =
    "100 90 0:30 / / rw - tmpfs tmpfs rw\n"
    "101 100 0:4 / /proc rw - proc proc rw\n"
    "102 100 0:20 / /sys rw - sysfs sysfs rw\n"
    "103 100 0:5 / /dev rw - devtmpfs devtmpfs rw\n"
    "104 103 0:25 / /dev/pts rw - devpts devpts rw\n"
    "110 100 0:40 / /oldroot ro - overlay overlay ro\n"
    "111 110 0:30 / /oldroot/run rw - tmpfs tmpfs rw\n"
    "112 111 254:1 / /oldroot/run/initos/lower ro - erofs /dev/dm-1 ro\n"
    "113 111 253:16 / /oldroot/run/initos/state rw - ext4 /dev/vdb rw\n";

TEST(TeardownMounts, ChildrenFirstKeepingRootAndApiMounts) {
  auto order = TeardownMounts(ParseMountInfo(kAfterPivot), {"/proc", "/sys", "/dev"});
  std::vector<std::string> want = {"/oldroot/run/initos/state", "/oldroot/run/initos/lower",
                                   "/oldroot/run", "/oldroot", "/dev/pts"};
  EXPECT_EQ(order, want);
}

TEST(PrepareShutdownRoot, CopiesTheBinaryExecutable) {
  char tmpl[] = "/tmp/initos-shutdown-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_TRUE(WriteStringToFile(root + "/init", "#!/bin/sh\necho binary\n", 0700).ok());
  auto r = PrepareShutdownRoot(root, root + "/init");
  ASSERT_TRUE(r.ok()) << r.error().str();
  struct stat st {};
  ASSERT_EQ(::stat((root + "/run/initramfs/shutdown").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(*ReadFileToString(root + "/run/initramfs/shutdown"), "#!/bin/sh\necho binary\n");
  auto missing = PrepareShutdownRoot(root, root + "/nope");
  EXPECT_FALSE(missing.ok());
  std::system(("rm -rf " + root).c_str());
}

}  // namespace
}  // namespace initos
