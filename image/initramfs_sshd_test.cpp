// `--with-sshd`: the initramfs carries the SSH sidecar's files and a manifest
// that names exactly them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "base/file.h"
#include "format/cpio_reader.h"
#include "image/initramfs.h"
#include "sidecar/sidecar_files.h"

namespace initos {
namespace {

TEST(InitramfsSshd, CarriesSidecarFilesAndManifest) {
  if (::access("/usr/sbin/sshd", X_OK) != 0 || ::access("/bin/busybox", X_OK) != 0) {
    GTEST_SKIP() << "openssh-server or busybox-static not installed";
  }
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.with_sshd = true;
  auto ar = AssembleInitramfs(spec);
  ASSERT_TRUE(ar.ok()) << ar.error().str();
  auto bytes = ar->WriteToString();
  ASSERT_TRUE(bytes.ok());
  auto recs = ParseNewc(*bytes);
  ASSERT_TRUE(recs.ok());
  std::map<std::string, CpioRecord> e;
  for (auto& r : *recs) e[r.name] = r;

  ASSERT_TRUE(e.count("etc/initos/sidecar.files"));
  auto listed = ParseSidecarManifest(e["etc/initos/sidecar.files"].data);
  ASSERT_TRUE(listed.ok());
  ASSERT_GE(listed->size(), 4u);
  for (const auto& p : *listed) {
    ASSERT_TRUE(e.count(p.substr(1))) << p << " listed but not in the archive";
    EXPECT_TRUE(S_ISREG(e[p.substr(1)].mode)) << p;
  }
  EXPECT_EQ(e["usr/sbin/sshd"].data, *ReadFileToString("/usr/sbin/sshd"));
  EXPECT_EQ(e["usr/sbin/sshd"].mode & 0111, 0111u);
  EXPECT_EQ(e["bin/busybox"].data, *ReadFileToString("/bin/busybox"));
}

}  // namespace
}  // namespace initos
