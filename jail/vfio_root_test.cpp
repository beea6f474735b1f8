// VFIO passthrough steps against the real kernel: a PCI NIC is taken from its
// host driver and bound to vfio-pci, after which the host has no netdev for
// it and its VFIO group is usable. Needs an IOMMU, which this project's hosts
// lack: scripts/root-tests-in-vm.sh runs it in a q35 guest with QEMU's
// emulated intel-iommu and an emulated vmxnet3 NIC, and names that NIC in
// INITOS_VFIO_TEST_NIC. Without that variable the test never touches a
// device (it would take a real host's network card away).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "base/file.h"
#include "base/testing/require.h"
#include "base/testing/test_util.h"
#include "jail/vfio.h"

namespace initos {
namespace {

bool HasIommuGroups() {
  DIR* d = ::opendir("/sys/kernel/iommu_groups");
  if (d == nullptr) return false;
  bool any = false;
  while (dirent* e = ::readdir(d)) any = any || e->d_name[0] != '.';
  ::closedir(d);
  return any;
}

// Names in DIR (no dot entries); empty when DIR does not exist.
std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  ::closedir(d);
  return names;
}

std::string DriverOf(const std::string& address) {
  char buf[4096];
  std::string link = "/sys/bus/pci/devices/" + address + "/driver";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "";
  std::string t(buf, static_cast<size_t>(n));
  return t.substr(t.rfind('/') + 1);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Gives the device back to its own driver so the test can run again.
void GiveBack(const std::string& address) {
  (void)WriteStringToFile("/sys/bus/pci/devices/" + address + "/driver_override", "\n");
  if (DriverOf(address) == kVfioPciDriver)
    (void)WriteStringToFile("/sys/bus/pci/drivers/vfio-pci/unbind", address);
  (void)WriteStringToFile("/sys/bus/pci/drivers_probe", address);
}

TEST(VfioRoot, EmulatedNicMovesFromItsDriverToVfioPci) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!HasIommuGroups())
    INITOS_KERNEL_FEATURE_MISSING()
        << "no IOMMU groups (/sys/kernel/iommu_groups is empty): no IOMMU on this host; "
           "scripts/root-tests-in-vm.sh runs this test with an emulated intel-iommu";
  if (!Exists("/sys/bus/pci/drivers/vfio-pci"))
    INITOS_KERNEL_FEATURE_MISSING() << "vfio-pci is not loaded (modprobe vfio-pci)";
  const char* nic_env = std::getenv("INITOS_VFIO_TEST_NIC");
  if (nic_env == nullptr || *nic_env == '\0')
    INITOS_KERNEL_FEATURE_MISSING()
        << "INITOS_VFIO_TEST_NIC (a PCI NIC this test may take from the host) is not set";
  const std::string nic = nic_env;
  ASSERT_TRUE(IsPciAddress(nic)) << nic;

  // Before: a host driver and a netdev.
  const std::string dev = "/sys/bus/pci/devices/" + nic;
  std::string host_driver = DriverOf(nic);
  ASSERT_FALSE(host_driver.empty()) << nic << " has no driver before the test";
  ASSERT_NE(host_driver, kVfioPciDriver);
  std::vector<std::string> netdevs = List(dev + "/net");
  ASSERT_EQ(netdevs.size(), 1u) << nic << " has no netdev before the test";
  ASSERT_TRUE(Exists("/sys/class/net/" + netdevs[0]));

  // The CLI's dry run shows the steps and changes nothing.
  auto dry = testutil::RunProgram({INITOS_BINARY, "jail", "vfio-bind", "--dry-run", nic});
  EXPECT_EQ(dry.status, 0) << dry.err;
  EXPECT_NE(dry.out.find("echo vfio-pci > /sys/bus/pci/devices/" + nic + "/driver_override"),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(DriverOf(nic), host_driver);

  auto plan = BindToVfio({nic});
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  ASSERT_EQ(plan->groups.size(), 1u);
  const std::string group_node = "/dev/vfio/" + std::to_string(plan->groups[0]);

  // After: the host side no longer sees a network card there.
  EXPECT_EQ(DriverOf(nic), kVfioPciDriver);
  EXPECT_TRUE(List(dev + "/net").empty());
  EXPECT_FALSE(Exists("/sys/class/net/" + netdevs[0]))
      << netdevs[0] << " still exists on the host after the handover";
  auto override_text = ReadFileToString(dev + "/driver_override");
  ASSERT_TRUE(override_text.ok());
  EXPECT_EQ(*override_text, "vfio-pci\n");
  struct stat st;
  ASSERT_EQ(::stat(group_node.c_str(), &st), 0) << group_node;
  EXPECT_TRUE(S_ISCHR(st.st_mode));

  // And the group is what QEMU needs: viable (every device of it on vfio).
  unique_fd container(::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(container.ok()) << "open /dev/vfio/vfio: " << std::strerror(errno);
  EXPECT_EQ(::ioctl(container.get(), VFIO_GET_API_VERSION), VFIO_API_VERSION);
  unique_fd group(::open(group_node.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(group.ok()) << "open " << group_node << ": " << std::strerror(errno);
  vfio_group_status status{};
  status.argsz = sizeof status;
  ASSERT_EQ(::ioctl(group.get(), VFIO_GROUP_GET_STATUS, &status), 0) << std::strerror(errno);
  EXPECT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);

  // A second bind is a no-op that still succeeds (a jail restart).
  auto again = BindToVfio({nic});
  EXPECT_TRUE(again.ok()) << again.error().str();

  group.reset();
  container.reset();
  GiveBack(nic);
  EXPECT_EQ(DriverOf(nic), host_driver) << "the NIC did not go back to its driver";
}

}  // namespace
}  // namespace initos
