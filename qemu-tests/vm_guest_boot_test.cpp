// The guest half of a VM jail (issue 11) booted for real: the initramfs the
// supervisor builds in memory (jail/vm_guest.h) on the test kernel, with a
// signed busybox bundle attached as a whole virtio-blk disk with serial
// initos-rootfs. initos in the guest must find the disk by its serial,
// verify the bundle with the keys the archive carries, and exec the jail's
// chain (init.os-argv) as the guest's PID 1; a bundle signed by another key
// is refused and the guest powers off. No vsock here (the host has no
// vhost-vsock): the READY report and the agent are off.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "format/vm_channel.h"
#include "jail/vm_guest.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {
namespace {

namespace fs = std::filesystem;

void RunOk(const std::vector<std::string>& argv) {
  auto [code, out] = RunCapture(argv);
  ASSERT_EQ(code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ":\n" << out;
}

// A busybox tree whose /main.sh prints its marker and arguments, built
// and signed with dir/KEY into dir/guest.bundle.
std::string GuestBundle(const std::string& dir, const std::string& key) {
  std::string tree = dir + "/tree";
  EXPECT_TRUE(MakeDirs(tree + "/bin").ok());
  EXPECT_TRUE(MakeDirs(tree + "/etc").ok());
  EXPECT_TRUE(MakeDirs(tree + "/var").ok());
  EXPECT_TRUE(MakeDirs(tree + "/home").ok());
  fs::copy_file("/bin/busybox", tree + "/bin/busybox", fs::copy_options::overwrite_existing);
  EXPECT_TRUE(WriteStringToFile(tree + "/etc/marker", "guest-marker-42\n").ok());
  EXPECT_TRUE(WriteStringToFile(tree + "/main.sh",
                                "#!/bin/busybox sh\n"
                                "echo \"GUEST-OS-ARGV $(/bin/busybox cat /etc/marker) $*\"\n"
                                "echo \"GUEST-PID $$\"\n"
                                "echo boot >> /var/boots\n"
                                "echo \"GUEST-BOOTS $(/bin/busybox wc -l < /var/boots)\"\n"
                                // The agent, if one outlived the handover,
                                // and every fd it holds.
                                "B=/bin/busybox\n"
                                "for d in /proc/[0-9]*; do\n"
                                "  case \"$($B tr '\\0' ' ' < $d/cmdline 2>/dev/null)\" in\n"
                                "  @initos-agent*)\n"
                                "    echo \"AGENT-RUNNING $($B readlink $d/exe)\"\n"
                                "    for f in $d/fd/*; do\n"
                                "      echo \"AGENT-FD ${f##*/} $($B readlink $f)\"\n"
                                "    done;;\n"
                                "  esac\n"
                                "done\n"
                                "/bin/busybox sync\n",
                                0755)
                  .ok());
  std::string out = dir + "/guest.bundle";
  RunOk({INITOS_BINARY, "image", "build", "--rootfs", tree, "--key",
         dir + "/" + key + "/signing.key", "--name", "guestos", "--version", "5", "-o", out});
  return out;
}

// The in-memory initramfs, written out for QEMU (the supervisor hands QEMU
// the memfd itself).
std::string GuestInitramfsFile(const std::string& dir, bool state_disk = false,
                               bool vsock = false) {
  GuestSpec spec;
  spec.jail_name = "vmtest";
  spec.rootfs_name = "guestos";
  spec.min_version = 5;
  spec.key_paths = {dir + "/a/signing.pub"};
  spec.os_argv = {"/bin/busybox", "sh", "/main.sh", "first", "second arg"};
  spec.vsock = vsock;
  spec.state_disk = state_disk;
  spec.initos_binary = INITOS_BINARY;
  spec.modules_root = "/lib/modules/" + KernelVersion(FindKernel());
  auto fd = GuestInitramfsMemfd(spec);
  EXPECT_TRUE(fd.ok()) << fd.error().str();
  if (!fd.ok()) return "";
  auto bytes = ReadFileToString("/proc/self/fd/" + std::to_string(fd->get()));
  EXPECT_TRUE(bytes.ok());
  std::string path = dir + "/guest-initramfs.cpio";
  EXPECT_TRUE(WriteStringToFile(path, bytes.ok() ? *bytes : "").ok());
  return path;
}

QemuOptions GuestBoot(const std::string& initramfs, const std::string& bundle,
                      const std::string& state = "") {
  QemuOptions o = BootOptions(initramfs);
  // The state disk first: the guest must find each disk by its serial,
  // not by its place.
  if (!state.empty())
    o.extra_args = {"-drive", "file=" + state + ",format=raw,if=none,id=state", "-device",
                    std::string("virtio-blk-pci,drive=state,serial=") + kVmStateSerial};
  for (const std::string& a : std::vector<std::string>{
           "-drive", "file=" + bundle + ",format=raw,if=none,id=rootfs,readonly=on", "-device",
           std::string("virtio-blk-pci,drive=rootfs,serial=") + kVmRootfsSerial})
    o.extra_args.push_back(a);
  return o;
}

TEST(VmGuestBoot, VerifiesTheSerialDiskAndExecsTheJailsChain) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  std::string bundle = GuestBundle(dir, "a");
  std::string initramfs = GuestInitramfsFile(dir);
  ASSERT_FALSE(initramfs.empty());
  QemuOptions o = GuestBoot(initramfs, bundle);
  // As a VM jail's QEMU runs: a guest panic is a failure exit.
  for (const char* a : {"-device", "pvpanic-pci", "-action", "panic=exit-failure"})
    o.extra_args.push_back(a);
  auto vm = Qemu::Start(o);
  ASSERT_TRUE(vm.ok()) << vm.error().str();
  ASSERT_TRUE((*vm)->WaitFor("stage rootfs done", kBootTimeout)) << (*vm)->Output();
  EXPECT_TRUE((*vm)->Output().find("rootfs: guestos version 5 from SERIAL=initos-rootfs verified "
                                   "(key /etc/initos/keys/key-0.pem") != std::string::npos)
      << (*vm)->Output();
  ASSERT_TRUE((*vm)->WaitFor("exec OS init: /bin/busybox")) << (*vm)->Output();
  ASSERT_TRUE((*vm)->WaitFor("GUEST-OS-ARGV guest-marker-42 first second arg")) << (*vm)->Output();
  EXPECT_TRUE((*vm)->WaitFor("GUEST-PID 1")) << (*vm)->Output();
  // No vsock: nothing was started or reported.
  EXPECT_EQ((*vm)->Output().find("guest: agent"), std::string::npos) << (*vm)->Output();
  EXPECT_EQ((*vm)->Output().find("READY"), std::string::npos) << (*vm)->Output();
  EXPECT_EQ((*vm)->Output().find("AGENT-RUNNING"), std::string::npos) << (*vm)->Output();
  // The chain ends, the guest's PID 1 exits, the kernel panics, and the
  // pvpanic driver the guest loaded tells QEMU: a failure, not a poweroff.
  auto code = (*vm)->WaitExit(kStepTimeout);
  ASSERT_TRUE(code.has_value()) << (*vm)->Tail();
  EXPECT_EQ(*code, 1) << (*vm)->Tail();
}

// guest.vsock on a VM without a vsock device (this host has no
// vhost-vsock): the agent still starts before the handover and outlives it,
// holding only its listener, PID 1's mount namespace and its stdio; the
// READY report fails with a warning and the boot goes on.
TEST(VmGuestBoot, AgentOutlivesTheHandoverAndAFailedReadyIsAWarning) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  std::string bundle = GuestBundle(dir, "a");
  std::string initramfs = GuestInitramfsFile(dir, false, /*vsock=*/true);
  ASSERT_FALSE(initramfs.empty());
  auto vm = Qemu::Start(GuestBoot(initramfs, bundle));
  ASSERT_TRUE(vm.ok()) << vm.error().str();
  ASSERT_TRUE((*vm)->WaitFor("loaded module vmw_vsock_virtio_transport", kBootTimeout))
      << (*vm)->Output();
  ASSERT_TRUE((*vm)->WaitFor("guest: agent started (pid ")) << (*vm)->Output();
  ASSERT_TRUE(
      (*vm)->WaitFor("guest: READY not reported to the host: connect to vsock CID 2 "
                     "port 1025"))
      << (*vm)->Output();
  ASSERT_TRUE((*vm)->WaitFor("exec OS init: /bin/busybox")) << (*vm)->Output();
  ASSERT_TRUE((*vm)->WaitFor("GUEST-OS-ARGV guest-marker-42")) << (*vm)->Output();
  // Its binary is the initramfs' /init, deleted by the handover.
  EXPECT_TRUE((*vm)->WaitFor("AGENT-RUNNING /init (deleted)")) << (*vm)->Output();
  // stdio, the listener, PID 1's namespace, its log's kmsg fd; nothing else.
  for (const char* fd : {"AGENT-FD 0 /dev/null", "AGENT-FD 1 /dev/kmsg", "AGENT-FD 2 /dev/kmsg",
                         "AGENT-FD 3 socket:[", "AGENT-FD 4 mnt:[", "AGENT-FD 5 /dev/kmsg"})
    EXPECT_TRUE((*vm)->WaitFor(fd)) << fd << "\n" << (*vm)->Output();
  EXPECT_TRUE((*vm)->WaitExit(kStepTimeout).has_value()) << (*vm)->Tail();
  EXPECT_EQ((*vm)->Output().find("AGENT-FD 6"), std::string::npos) << (*vm)->Output();
}

// A state disk the supervisor made (all zeros): the guest formats it on the
// first boot with the mke2fs its initramfs carries, and /var persists.
TEST(VmGuestBoot, StateDiskIsCreatedOnceAndPersists) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  std::string bundle = GuestBundle(dir, "a");
  std::string initramfs = GuestInitramfsFile(dir, /*state_disk=*/true);
  ASSERT_FALSE(initramfs.empty());
  std::string state = dir + "/state.img";
  RunOk({"truncate", "-s", "64M", state});
  for (int boot = 1; boot <= 2; ++boot) {
    auto vm = Qemu::Start(GuestBoot(initramfs, bundle, state));
    ASSERT_TRUE(vm.ok()) << vm.error().str();
    ASSERT_TRUE((*vm)->WaitFor("stage rootfs done", kBootTimeout)) << (*vm)->Output();
    bool created = (*vm)->Output().find("state: created ext4 on /dev/vda (SERIAL=initos-state)") !=
                   std::string::npos;
    EXPECT_EQ(created, boot == 1) << (*vm)->Output();
    ASSERT_TRUE((*vm)->WaitFor("GUEST-BOOTS " + std::to_string(boot))) << (*vm)->Output();
    EXPECT_TRUE((*vm)->WaitExit(kStepTimeout).has_value()) << (*vm)->Tail();
  }
}

TEST(VmGuestBoot, BundleOfAnotherKeyIsRefusedAndTheGuestPowersOff) {
  INITOS_REQUIRE_QEMU();
  std::string dir = TestWorkDir();
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/a"});
  RunOk({INITOS_BINARY, "image", "keygen", "-o", dir + "/b"});
  std::string bundle = GuestBundle(dir, "b");  // the guest trusts only a
  std::string initramfs = GuestInitramfsFile(dir);
  ASSERT_FALSE(initramfs.empty());
  auto vm = Qemu::Start(GuestBoot(initramfs, bundle));
  ASSERT_TRUE(vm.ok()) << vm.error().str();
  ASSERT_TRUE((*vm)->WaitFor("stage rootfs failed", kBootTimeout)) << (*vm)->Output();
  EXPECT_TRUE(
      (*vm)->WaitFor("rootfs: signature of SERIAL=initos-rootfs does not match any of 1 "
                     "trusted key (/etc/initos/keys/key-0.pem)"))
      << (*vm)->Output();
  EXPECT_TRUE((*vm)->WaitFor("shutdown: poweroff")) << (*vm)->Output();
  auto code = (*vm)->WaitExit(kStepTimeout);
  ASSERT_TRUE(code.has_value()) << (*vm)->Tail();
  EXPECT_EQ(*code, 0);  // a poweroff, not a panic
  EXPECT_EQ((*vm)->Output().find("GUEST-OS-ARGV"), std::string::npos);
}

}  // namespace
}  // namespace initos::qemu
