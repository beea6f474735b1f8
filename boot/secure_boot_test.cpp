// The probe against a fake /sys tree (no mount: not PID 1) and the line.
#include "boot/secure_boot.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "base/file.h"
#include "os/efivarfs.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

class SecureBootProbe : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/secure_boot_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  void Var(std::string_view name, std::string_view guid, const std::string& content) {
    std::string dir = root_ + kEfivarsDir;
    ASSERT_TRUE(MakeDirs(dir).ok());
    ASSERT_TRUE(WriteStringToFile(dir + "/" + EfiVarFileName(name, guid), content).ok());
  }
  std::string root_;
};

const std::string kAttrs("\x06\x00\x00\x00", 4);

TEST_F(SecureBootProbe, NoEfiDirectoryIsUnknown) {
  EfiBootInfo info = ProbeEfiBoot(root_, false, "");
  EXPECT_EQ(SecureBootLine(info, false), "secure boot: unknown (no EFI firmware), verified mode");
  EXPECT_EQ(SecureBootLine(info, true),
            "secure boot: unknown (no EFI firmware), DEVELOPMENT MODE (rootfs.insecure-dev-mode)");
}

// sysfs' bare mount point without efivarfs on it: every variable would look
// absent, which must read as unknown, not as "firmware without Secure Boot".
TEST_F(SecureBootProbe, EmptyEfivarsDirectoryIsUnknown) {
  ASSERT_TRUE(MakeDirs(root_ + kEfivarsDir).ok());
  EfiBootInfo info = ProbeEfiBoot(root_, false, "");
  EXPECT_EQ(info.secure_boot, SecureBootState::kUnknown);
  EXPECT_EQ(SecureBootLine(info, false), "secure boot: unknown (efivarfs: " + root_ + kEfivarsDir +
                                             " holds no variables (efivarfs not mounted)), "
                                             "verified mode");
}

TEST_F(SecureBootProbe, ReadsTheVariableFiles) {
  Var("SecureBoot", kEfiGlobalGuid, kAttrs + "\x01");
  Var("SetupMode", kEfiGlobalGuid, kAttrs + std::string(1, '\0'));
  Var("StubInfo", kLoaderGuid, kAttrs + std::string("s\0d\0-\0s\0t\0u\0b\0\0\0", 16));
  EfiBootInfo info = ProbeEfiBoot(root_, false, "");
  EXPECT_EQ(SecureBootLine(info, false),
            "secure boot: on (user mode), stub: sd-stub, verified mode");
}

TEST_F(SecureBootProbe, SymlinkedVariableIsNotFollowed) {
  Var("SetupMode", kEfiGlobalGuid, kAttrs + std::string(1, '\0'));
  std::string target = root_ + "/elsewhere";
  ASSERT_TRUE(WriteStringToFile(target, kAttrs + "\x01").ok());
  fs::create_symlink(target,
                     root_ + kEfivarsDir + "/" + EfiVarFileName("SecureBoot", kEfiGlobalGuid));
  EfiBootInfo info = ProbeEfiBoot(root_, false, "");
  EXPECT_EQ(info.secure_boot, SecureBootState::kUnknown);
  EXPECT_NE(info.reason.find("SecureBoot: open: "), std::string::npos) << info.reason;
}

TEST_F(SecureBootProbe, HugeVariableIsRefusedNotReadWhole) {
  Var("SecureBoot", kEfiGlobalGuid, kAttrs + "\x01");
  Var("StubInfo", kLoaderGuid, kAttrs + std::string(1 << 20, 'a'));
  EfiBootInfo info = ProbeEfiBoot(root_, false, "");
  EXPECT_EQ(info.secure_boot, SecureBootState::kOn);
  ASSERT_EQ(info.problems.size(), 1u);
  EXPECT_NE(info.problems[0].find("StubInfo: holds 1028 bytes of data, more than 1024"),
            std::string::npos)
      << info.problems[0];
}

}  // namespace
}  // namespace initos
