// `--with-vm KERNEL`: the initramfs carries what VM jails need on a real
// boot (PID 1 runs from a copy of it in jail mode): the guest kernel, its
// modules with a modules.dep, QEMU with its libraries, TCG module and
// firmware.
#include <gtest/gtest.h>

#include <map>

#include "base/file.h"
#include "format/cpio_reader.h"
#include "image/initramfs.h"
#include "os/elf_libraries.h"

namespace initos {
namespace {

constexpr const char* kKernel = "/boot/vmlinuz-6.1.0-57-cloud-amd64";
constexpr const char* kRelease = "6.1.0-57-cloud-amd64";

TEST(InitramfsVm, WithVmCarriesKernelModulesQemuAndFirmware) {
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.vm_kernel = kKernel;
  auto ar = AssembleInitramfs(spec);
  ASSERT_TRUE(ar.ok()) << ar.error().str();
  auto bytes = ar->WriteToString();
  ASSERT_TRUE(bytes.ok());
  auto recs = ParseNewc(*bytes);
  ASSERT_TRUE(recs.ok());
  std::map<std::string, CpioRecord> e;
  for (auto& r : *recs) e[r.name] = r;

  ASSERT_TRUE(e.count("usr/lib/initos/vm/vmlinuz"));
  EXPECT_EQ(e["usr/lib/initos/vm/vmlinuz"].data, *ReadFileToString(kKernel));

  const std::string mods = std::string("usr/lib/initos/vm/modules/") + kRelease + "/";
  ASSERT_TRUE(e.count(mods + "modules.dep"));
  const std::string& dep = e[mods + "modules.dep"].data;
  for (const char* m : {"virtio_blk.ko", "dm-verity.ko", "vmw_vsock_virtio_transport.ko"}) {
    EXPECT_NE(dep.find(std::string("/") + m), std::string::npos) << m << " in:\n" << dep;
  }
  // Every module modules.dep names (with its dependencies) is in the archive.
  size_t listed = 0;
  for (size_t at = 0; at < dep.size();) {
    size_t colon = dep.find(':', at);
    ASSERT_NE(colon, std::string::npos);
    EXPECT_TRUE(e.count(mods + dep.substr(at, colon - at))) << dep.substr(at, colon - at);
    ++listed;
    at = dep.find('\n', colon);
    at = at == std::string::npos ? dep.size() : at + 1;
  }
  EXPECT_GE(listed, 10u);
  // Nothing lands in the host kernel's module dir.
  for (const auto& [name, rec] : e) EXPECT_NE(name.rfind("lib/modules/", 0), 0u) << name;

  ASSERT_TRUE(e.count("usr/bin/qemu-system-x86_64"));
  EXPECT_EQ(e["usr/bin/qemu-system-x86_64"].mode & 0111, 0111u);
  auto libs = ElfSharedLibraries("/usr/bin/qemu-system-x86_64");
  ASSERT_TRUE(libs.ok()) << libs.error().str();
  ASSERT_GT(libs->size(), 5u);
  for (const auto& l : *libs) {
    ASSERT_TRUE(e.count(l.substr(1))) << l;
    EXPECT_EQ(e[l.substr(1)].data.size(), ReadFileToString(l)->size()) << l;
  }
  for (const std::string& f : VmQemuDataFiles()) {
    ASSERT_TRUE(e.count(f.substr(1))) << f;
    EXPECT_TRUE(S_ISREG(e[f.substr(1)].mode)) << f;  // symlinks followed
    EXPECT_EQ(e[f.substr(1)].data, *ReadFileToString(f)) << f;
  }
  EXPECT_TRUE(e.count("usr/share/qemu/bios-microvm.bin"));
  EXPECT_TRUE(e.count("usr/share/seabios/bios-256k.bin"));
}

TEST(InitramfsVm, MissingKernelFailsNamingIt) {
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.vm_kernel = "/nonexistent/vmlinuz";
  auto ar = AssembleInitramfs(spec);
  ASSERT_FALSE(ar.ok());
  std::string msg = ar.error().str();
  EXPECT_NE(msg.find("--with-vm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/nonexistent/vmlinuz"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(InitramfsVm, KernelThatIsNoBzImageFails) {
  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.vm_kernel = "/etc/hostname";
  auto ar = AssembleInitramfs(spec);
  ASSERT_FALSE(ar.ok());
  EXPECT_NE(ar.error().str().find("/etc/hostname"), std::string::npos) << ar.error().str();
}

}  // namespace
}  // namespace initos
