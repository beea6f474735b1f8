#include "jail/vm_guest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "format/config.h"
#include "format/cpio_reader.h"
#include "os/modules.h"

namespace initos {
namespace {

using testutil::TempDir;

constexpr const char kKver[] = "6.1.0-57-cloud-amd64";
const std::string kModules = std::string("/lib/modules/") + kKver;

GuestSpec Spec(const TempDir& dir) {
  GuestSpec s;
  s.jail_name = "web";
  s.rootfs_name = "debian-web";
  s.min_version = 7;
  EXPECT_TRUE(WriteStringToFile(dir / "a.pem", "PEM A\n").ok());
  EXPECT_TRUE(WriteStringToFile(dir / "b.pem", "PEM B\n").ok());
  s.key_paths = {dir / "a.pem", dir / "b.pem"};
  s.os_argv = {"/usr/lib/initos/initos", "reap", "--", "/bin/sh", "-c", "echo \"hi\\there\""};
  s.initos_binary = "/proc/self/exe";
  s.modules_root = kModules;
  return s;
}

TEST(GuestConfigTest, ParsesWithoutProblemsAndSaysWhatTheGuestDoes) {
  TempDir dir;
  GuestSpec s = Spec(dir);
  std::string text = GuestConfigToml(s);
  ParsedConfig p = ParseConfig(text, "guest.toml");
  for (const auto& problem : p.problems) ADD_FAILURE() << problem.str() << "\n" << text;
  const Config& c = p.config;
  EXPECT_EQ(c.init.mode, InitMode::kSwitchRoot);
  EXPECT_EQ(c.init.os_argv, s.os_argv);  // quotes and backslashes survive
  EXPECT_EQ(c.init.os_init, "");
  EXPECT_EQ(c.rootfs.image, "SERIAL=initos-rootfs");
  EXPECT_EQ(c.rootfs.name, "debian-web");
  EXPECT_EQ(c.rootfs.keys,
            (std::vector<std::string>{"/etc/initos/keys/key-0.pem", "/etc/initos/keys/key-1.pem"}));
  EXPECT_EQ(c.rootfs.min_version, 7u);
  EXPECT_EQ(c.rootfs.on_failure, OnFailure::kPoweroff);
  EXPECT_FALSE(c.rootfs.insecure_dev_mode);
  EXPECT_EQ(c.state.device, "");
  EXPECT_EQ(c.guest.jail, "web");
  EXPECT_TRUE(c.guest.vsock);
  for (const char* m :
       {"pvpanic-pci", "pvpanic-mmio", "virtio_blk", "virtio_pci", "virtio_mmio", "dm-mod",
        "dm-verity", "erofs", "overlay", "button", "evdev", "vsock", "vmw_vsock_virtio_transport"})
    EXPECT_NE(std::find(c.init.modules.begin(), c.init.modules.end(), m), c.init.modules.end())
        << m;
}

TEST(GuestConfigTest, StateDiskAndNoVsock) {
  TempDir dir;
  GuestSpec s = Spec(dir);
  s.state_disk = true;
  s.vsock = false;
  ParsedConfig p = ParseConfig(GuestConfigToml(s), "guest.toml");
  ASSERT_TRUE(p.problems.empty()) << p.problems[0].str();
  EXPECT_EQ(p.config.state.device, "SERIAL=initos-state");
  EXPECT_TRUE(p.config.state.create);
  EXPECT_FALSE(p.config.guest.vsock);
  const auto& m = p.config.init.modules;
  EXPECT_EQ(std::find(m.begin(), m.end(), "vsock"), m.end());
  EXPECT_NE(std::find(m.begin(), m.end(), "ext4"), m.end());
}

std::map<std::string, CpioRecord> Unpack(const CpioArchive& ar) {
  auto bytes = ar.WriteToString();
  EXPECT_TRUE(bytes.ok());
  auto records = ParseNewc(bytes.ok() ? *bytes : "");
  EXPECT_TRUE(records.ok());
  std::map<std::string, CpioRecord> out;
  if (records.ok())
    for (auto& r : *records) out[r.name] = r;
  return out;
}

TEST(GuestInitramfsTest, HoldsInitConfigKeysAndModulesWithDeps) {
  TempDir dir;
  GuestSpec s = Spec(dir);
  auto ar = GuestInitramfs(s);
  ASSERT_TRUE(ar.ok()) << ar.error().str();
  auto e = Unpack(*ar);
  ASSERT_TRUE(e.count("init"));
  auto self = ReadFileToString("/proc/self/exe");
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(e["init"].data, *self);
  EXPECT_EQ(e["init"].mode & 07777, 0755u);
  EXPECT_EQ(e["etc/initos/initos.toml"].data, GuestConfigToml(s));
  EXPECT_EQ(e["etc/initos/keys/key-0.pem"].data, "PEM A\n");
  EXPECT_EQ(e["etc/initos/keys/key-1.pem"].data, "PEM B\n");
  for (const char* d : {"dev", "proc", "sys", "run"}) {
    ASSERT_TRUE(e.count(d)) << d;
    EXPECT_TRUE(S_ISDIR(e[d].mode)) << d;
  }
  EXPECT_TRUE(S_ISCHR(e["dev/console"].mode));

  // Every module asked for, and every dependency, where PID 1 looks
  // (lib/modules/RELEASE), and a modules.dep naming exactly those.
  const std::string mod = std::string("lib/modules/") + kKver + "/";
  ASSERT_TRUE(e.count(mod + "modules.dep"));
  auto db = ReadModuleDb(kModules);
  ASSERT_TRUE(db.ok()) << db.error().str();
  auto res = ResolveModules(*db, GuestModules(s), kModules);
  ASSERT_TRUE(res.ok()) << res.error().str();
  EXPECT_EQ(e[mod + "modules.dep"].data, FormatModulesDep(*db, res->load));
  for (const char* rel :
       {"kernel/drivers/block/virtio_blk.ko", "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio_pci.ko",
        "kernel/drivers/misc/pvpanic/pvpanic-pci.ko", "kernel/drivers/misc/pvpanic/pvpanic.ko",
        "kernel/drivers/md/dm-verity.ko", "kernel/drivers/md/dm-mod.ko",
        "kernel/drivers/md/dm-bufio.ko", "kernel/fs/erofs/erofs.ko",
        "kernel/fs/overlayfs/overlay.ko", "kernel/drivers/acpi/button.ko",
        "kernel/drivers/input/evdev.ko", "kernel/net/vmw_vsock/vsock.ko",
        "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko",
        "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko"}) {
    ASSERT_TRUE(e.count(mod + rel)) << rel;
    auto host = ReadFileToString(kModules + "/" + rel);
    ASSERT_TRUE(host.ok());
    EXPECT_EQ(e[mod + rel].data, *host) << rel;
  }
  size_t kos = 0;
  for (const auto& [name, r] : e) kos += name.ends_with(".ko");
  EXPECT_EQ(kos, res->load.size());
  // The guest's modules.dep resolves by itself: PID 1 can load all of it.
  auto guest_db = ParseModuleDb(e[mod + "modules.dep"].data, e[mod + "modules.builtin"].data, "x");
  ASSERT_TRUE(guest_db.ok());
  EXPECT_TRUE(ResolveModules(*guest_db, GuestModules(s), "x").ok());
}

TEST(GuestInitramfsTest, StateDiskBringsMke2fsAndItsLibraries) {
  ASSERT_EQ(::access("/sbin/mke2fs", X_OK), 0) << "e2fsprogs is a build dependency";
  TempDir dir;
  GuestSpec s = Spec(dir);
  auto without = GuestInitramfs(s);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(Unpack(*without).count("sbin/mke2fs"));
  s.state_disk = true;
  auto ar = GuestInitramfs(s);
  ASSERT_TRUE(ar.ok()) << ar.error().str();
  auto e = Unpack(*ar);
  ASSERT_TRUE(e.count("sbin/mke2fs"));
  EXPECT_EQ(e["sbin/mke2fs"].data, *ReadFileToString("/sbin/mke2fs"));
  EXPECT_EQ(e["sbin/mkfs.ext4"].data, "mke2fs");
  for (const char* lib : {"lib/x86_64-linux-gnu/libext2fs.so.2", "lib/x86_64-linux-gnu/libc.so.6",
                          "lib64/ld-linux-x86-64.so.2"})
    EXPECT_TRUE(e.count(lib)) << lib;
}

TEST(GuestInitramfsTest, ErrorsNameWhatIsMissing) {
  TempDir dir;
  GuestSpec s = Spec(dir);
  s.key_paths.push_back(dir / "missing.pem");
  auto r = GuestInitramfs(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("missing.pem"), std::string::npos) << r.error().str();
  s = Spec(dir);
  s.modules_root = dir.path();
  r = GuestInitramfs(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("modules"), std::string::npos) << r.error().str();
}

TEST(GuestInitramfsTest, MemfdIsSealedAndHoldsTheArchive) {
  TempDir dir;
  GuestSpec s = Spec(dir);
  auto fd = GuestInitramfsMemfd(s);
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  int seals = ::fcntl(fd->get(), F_GET_SEALS);
  EXPECT_EQ(seals, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_LT(::pwrite(fd->get(), "x", 1, 0), 0);
  auto content = ReadFileToString("/proc/self/fd/" + std::to_string(fd->get()));
  ASSERT_TRUE(content.ok());
  auto ar = GuestInitramfs(s);
  ASSERT_TRUE(ar.ok());
  EXPECT_EQ(*content, *ar->WriteToString());
}

TEST(GuestModulesRootTest, FromTheKernelsVersion) {
  TempDir dir;
  JailConfig j;
  j.name = "web";
  j.vm.kernel_modules = "/opt/mods";
  auto r = GuestModulesRoot(j, dir.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, dir / "opt/mods");

  // A fake bzImage naming release 9.9.9-test: /lib/modules unless the
  // shipped VM module dir has that release.
  std::string bz(0x1000, '\0');
  bz.replace(0x202, 4, "HdrS");
  bz[0x206] = 0x0f;  // boot protocol 2.15: has kernel_version
  bz[0x207] = 0x02;
  bz[0x20e] = 0x00;
  bz[0x20f] = 0x02;  // string at 0x200 + 0x200
  bz.replace(0x400, 20, "9.9.9-test (x@y) #1\0", 20);
  ASSERT_TRUE(MakeDirs(dir / "boot").ok());
  ASSERT_TRUE(WriteStringToFile(dir / "boot/vmlinuz", bz).ok());
  j.vm.kernel_modules.clear();
  j.vm.kernel = "/boot/vmlinuz";
  r = GuestModulesRoot(j, dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("9.9.9-test"), std::string::npos) << r.error().str();
  ASSERT_TRUE(MakeDirs(dir / "lib/modules/9.9.9-test").ok());
  r = GuestModulesRoot(j, dir.path());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, dir / "lib/modules/9.9.9-test");
  ASSERT_TRUE(MakeDirs(dir / "usr/lib/initos/vm/modules/9.9.9-test").ok());
  r = GuestModulesRoot(j, dir.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, dir / "usr/lib/initos/vm/modules/9.9.9-test");

  // The real test kernel.
  j.vm.kernel = std::string("/boot/vmlinuz-") + kKver;
  r = GuestModulesRoot(j);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, kModules);
}

}  // namespace
}  // namespace initos
