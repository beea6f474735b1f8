#include "base/safe_open.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"

namespace initos {
namespace {

class SafeOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/safe_open_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/a").ok());
    ASSERT_TRUE(WriteStringToFile(dir_ + "/a/f", "data").ok());
    auto fd = OpenFile(dir_, O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(fd.ok());
    dfd_ = std::move(*fd);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Problem(const std::string& rel) {
    auto fd = OpenRegularBeneath(dfd_.get(), rel, rel);
    EXPECT_FALSE(fd.ok()) << rel;
    return fd.ok() ? "" : UntrustedOpenProblem(fd.error(), rel);
  }
  std::string dir_;
  unique_fd dfd_;
};

TEST_F(SafeOpen, RegularFileOpens) {
  auto fd = OpenRegularBeneath(dfd_.get(), "a/f", "f");
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  EXPECT_EQ(*ReadFdToString(fd->get()), "data");
  EXPECT_EQ(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(SafeOpen, HostileFilesAreRefusedWithTheirKind) {
  ASSERT_EQ(::symlink((dir_ + "/a/f").c_str(), (dir_ + "/link").c_str()), 0);
  ASSERT_EQ(::symlink("a", (dir_ + "/dirlink").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  EXPECT_EQ(Problem("link"), "is a symlink (or lies under one); not followed");
  EXPECT_EQ(Problem("dirlink/f"), "is a symlink (or lies under one); not followed");
  EXPECT_EQ(Problem("fifo"), "is a FIFO");  // and did not block: O_NONBLOCK
  EXPECT_EQ(Problem("a"), "is a directory");
  EXPECT_EQ(Problem("missing"), "does not exist");
  EXPECT_EQ(Problem("../etc/passwd"), "escapes its filesystem; not followed");
}

}  // namespace
}  // namespace initos
