#include "sidecar/sidecar_files.h"

#include <unistd.h>

#include <algorithm>

#include "gtest/gtest.h"

namespace initos {
namespace {

TEST(LddOutput, ParsesLibrariesAndLoader) {
  constexpr char kOut[] =
      "\tlinux-vdso.so.1 (0x00007ffd2e1f0000)\n"
      "\tlibcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 (0x00007f0c1a200000)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c1a01e000)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1a835000)\n"
      "\tlibodd.so.1 =>  (0x00007f0c1a000000)\n";
  auto libs = ParseLddOutput(kOut);
  ASSERT_TRUE(libs.ok());
  std::vector<std::string> want = {"/lib/x86_64-linux-gnu/libcrypto.so.3",
                                   "/lib/x86_64-linux-gnu/libc.so.6",
                                   "/lib64/ld-linux-x86-64.so.2"};
  EXPECT_EQ(*libs, want);
}

TEST(LddOutput, StaticAndMissing) {
  auto s = ParseLddOutput("\tnot a dynamic executable\n");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  s = ParseLddOutput("\tstatically linked\n");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  auto m = ParseLddOutput("\tlibgone.so.2 => not found\n");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("libgone.so.2 not found"), std::string::npos);
}

TEST(SidecarManifest, RoundTripAndRefusals) {
  std::vector<FileMapping> f = {{"/usr/sbin/sshd", "/usr/sbin/sshd"},
                                {"/host/busybox", "/bin/busybox"}};
  auto back = ParseSidecarManifest(SidecarManifestText(f));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (std::vector<std::string>{"/usr/sbin/sshd", "/bin/busybox"}));
  EXPECT_FALSE(ParseSidecarManifest("relative/path\n").ok());
  auto bad = ParseSidecarManifest("# c\n/ok\n/a/../etc/shadow\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(":3:"), std::string::npos) << bad.error().message;
}

// On the build host: the real programs and the libraries ldd reports.
TEST(SidecarFiles, HostSshdAndItsLibraries) {
  SidecarFilesSpec spec;
  if (::access(spec.sshd.c_str(), X_OK) != 0 || ::access(spec.shell.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "openssh-server or busybox-static not installed";
  }
  auto files = SidecarFiles(spec);
  ASSERT_TRUE(files.ok()) << files.error().str();
  auto has_dest = [&](const std::string& d) {
    return std::any_of(files->begin(), files->end(),
                       [&](const FileMapping& m) { return m.dest == d; });
  };
  EXPECT_TRUE(has_dest("/usr/sbin/sshd"));
  EXPECT_TRUE(has_dest("/usr/bin/ssh-keygen"));
  EXPECT_TRUE(has_dest("/bin/busybox"));
  bool has_libc = false, has_loader = false;
  for (const auto& m : *files) {
    EXPECT_EQ(::access(m.source.c_str(), R_OK), 0) << m.source;
    if (m.dest.find("/libc.so.6") != std::string::npos) has_libc = true;
    if (m.dest.find("/ld-linux") != std::string::npos) has_loader = true;
  }
  EXPECT_TRUE(has_libc);
  EXPECT_TRUE(has_loader);
  EXPECT_TRUE(std::is_sorted(files->begin(), files->end(),
                             [](const auto& a, const auto& b) { return a.dest < b.dest; }));
}

}  // namespace
}  // namespace initos
