#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>

#include "base/file.h"
#include "base/testing/test_child.h"
#include "os/mounts.h"

namespace initos {
namespace {

TEST(MountEarlyRoot, MountsExpectedTypesIntoTempRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  char tmpl[] = "/tmp/initos-mounts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  std::string err = RunInChild(
      [&]() -> std::string {
        if (::unshare(CLONE_NEWNS) != 0) return "unshare failed";
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "private";
        auto r = MountEarly(root, EarlyMounts());
        if (!r.ok()) return "MountEarly: " + r.error().str();
        auto text = ReadFileToString("/proc/self/mountinfo");
        if (!text.ok()) return "mountinfo";
        std::map<std::string, std::string> types;
        for (const auto& e : ParseMountInfo(*text)) types[e.mount_point] = e.fstype;
        std::map<std::string, std::string> want = {{"/proc", "proc"},
                                                   {"/sys", "sysfs"},
                                                   {"/dev", "devtmpfs"},
                                                   {"/dev/pts", "devpts"},
                                                   {"/dev/shm", "tmpfs"},
                                                   {"/run", "tmpfs"},
                                                   {"/sys/fs/cgroup", "cgroup2"}};
        for (const auto& [path, type] : want) {
          if (types[root + path] != type) {
            return root + path + " is '" + types[root + path] + "', want " + type;
          }
        }
        struct stat st {};
        if (::stat((root + "/run").c_str(), &st) != 0 || (st.st_mode & 07777) != 0755) {
          return "/run mode is not 0755";
        }
        // Already mounted: a second pass succeeds without stacking mounts.
        size_t before = ParseMountInfo(*text).size();
        r = MountEarly(root, EarlyMounts());
        if (!r.ok()) return "second MountEarly: " + r.error().str();
        auto again = ReadFileToString("/proc/self/mountinfo");
        if (!again.ok() || ParseMountInfo(*again).size() != before) return "mounts stacked";
        return "";
      },
      30);
  EXPECT_EQ(err, "");
  // The namespace died with the child: nothing is left mounted on the host.
  auto host = ReadFileToString("/proc/self/mountinfo");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->find(root), std::string::npos);
  std::string cmd = "rm -rf " + root;
  EXPECT_EQ(::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace initos
