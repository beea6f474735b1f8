// ResolveInRoot needs no privileges: symlink-escape attempts in an image
// must resolve inside it or fail, and never create anything outside.
#include "jail/mounts.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace initos {
namespace {

namespace fs = std::filesystem;

class ResolveInRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/resolve_in_root_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    host_ = base_ + "/host";  // stands for anything outside the image
    fs::create_directories(root_);
    fs::create_directories(host_);
    root_fd_ = ::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }
  void TearDown() override {
    ::close(root_fd_);
    fs::remove_all(base_);
  }
  // The path the fd names, as the kernel sees it.
  static std::string Where(int fd) {
    return fs::read_symlink("/proc/self/fd/" + std::to_string(fd)).string();
  }
  std::string base_, root_, host_;
  int root_fd_ = -1;
};

TEST_F(ResolveInRootTest, AbsoluteSymlinkStaysInside) {
  // etc -> /../../<host dir>: on the host this would be the host dir.
  fs::create_directory_symlink("/../.." + host_, root_ + "/etc");
  fs::create_directories(root_ + host_);  // the same path inside the image
  auto fd = ResolveInRoot(root_fd_, "/etc/escape", true, MountStep::TargetType::kDirectory);
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  EXPECT_EQ(Where(fd->get()), root_ + host_ + "/escape");
  EXPECT_FALSE(fs::exists(host_ + "/escape"));
}

TEST_F(ResolveInRootTest, DanglingEscapeFailsAndCreatesNothingOutside) {
  fs::create_directory_symlink("/../.." + host_, root_ + "/etc");
  auto fd = ResolveInRoot(root_fd_, "/etc/escape", true, MountStep::TargetType::kFile);
  EXPECT_FALSE(fd.ok());
  EXPECT_FALSE(fs::exists(host_ + "/escape"));
  EXPECT_TRUE(fs::is_empty(host_));
}

TEST_F(ResolveInRootTest, DotDotIsClampedAtTheRoot) {
  auto fd = ResolveInRoot(root_fd_, "/../../../../host/x", true, MountStep::TargetType::kFile);
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  EXPECT_EQ(Where(fd->get()), root_ + "/host/x");
  EXPECT_FALSE(fs::exists(host_ + "/x"));
}

TEST_F(ResolveInRootTest, RelativeSymlinkClimbingOutIsClamped) {
  fs::create_directories(root_ + "/var");
  fs::create_directory_symlink("../../../../../..", root_ + "/var/up");
  auto fd = ResolveInRoot(root_fd_, "/var/up/tmp", true, MountStep::TargetType::kDirectory);
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  EXPECT_EQ(Where(fd->get()), root_ + "/tmp");
}

TEST_F(ResolveInRootTest, MagicLinksAreRefused) {
  fs::create_directory_symlink("/proc/self/root", root_ + "/escape");
  auto fd = ResolveInRoot(root_fd_, "/escape/etc", false, MountStep::TargetType::kDirectory);
  EXPECT_FALSE(fd.ok());  // /proc does not exist inside this image at all
}

TEST_F(ResolveInRootTest, LikeSourceCreatesAFileForAFile) {
  int src = ::open("/etc/hostname", O_PATH | O_CLOEXEC);
  if (src < 0) src = ::open("/etc/passwd", O_PATH | O_CLOEXEC);
  ASSERT_GE(src, 0);
  auto fd = ResolveInRoot(root_fd_, "/a/b/file", true, MountStep::TargetType::kLikeSource, src);
  ::close(src);
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  EXPECT_TRUE(fs::is_regular_file(root_ + "/a/b/file"));
}

}  // namespace
}  // namespace initos
