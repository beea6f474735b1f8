#include "jail/vfio.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

using testutil::TempDir;

// A fake sysfs (and /dev) under a temp dir: regular files stand in for the
// unbind/bind/driver_override attributes, symlinks for driver and
// iommu_group, as the kernel lays them out.
class FakeSysfs {
 public:
  FakeSysfs() : roots_{tmp_ / "sys", tmp_ / "dev"} {
    EXPECT_TRUE(MakeDirs(roots_.dev).ok());
    Driver("vfio-pci");
  }
  const VfioRoots& roots() const { return roots_; }

  void Driver(const std::string& name) {
    std::string d = roots_.sys + "/bus/pci/drivers/" + name;
    EXPECT_TRUE(MakeDirs(d).ok());
    EXPECT_TRUE(WriteStringToFile(d + "/bind", "").ok());
    EXPECT_TRUE(WriteStringToFile(d + "/unbind", "").ok());
  }
  void NoVfioPciDriver() {
    testutil::Shell("rm -rf '" + roots_.sys + "/bus/pci/drivers/vfio-pci'");
  }
  // A PCI device with `driver` ("" = none) in IOMMU group `group` (< 0: none).
  void Device(const std::string& addr, const std::string& driver, int group) {
    std::string d = DevDir(addr);
    EXPECT_TRUE(MakeDirs(d).ok());
    EXPECT_TRUE(WriteStringToFile(d + "/driver_override", "(null)\n").ok());
    if (!driver.empty()) Bind(addr, driver);
    if (group >= 0) {
      std::string g = roots_.sys + "/kernel/iommu_groups/" + std::to_string(group);
      EXPECT_TRUE(MakeDirs(g + "/devices").ok());
      EXPECT_EQ(::symlink(("../../../../kernel/iommu_groups/" + std::to_string(group)).c_str(),
                          (d + "/iommu_group").c_str()),
                0);
      EXPECT_EQ(::symlink(("../../../../bus/pci/devices/" + addr).c_str(),
                          (g + "/devices/" + addr).c_str()),
                0);
    }
  }
  // What the kernel does on a bind: the driver link.
  void Bind(const std::string& addr, const std::string& driver) {
    Driver(driver);
    ::unlink((DevDir(addr) + "/driver").c_str());
    EXPECT_EQ(::symlink(("../../drivers/" + driver).c_str(), (DevDir(addr) + "/driver").c_str()),
              0);
  }
  void GroupNode(int group) {
    EXPECT_TRUE(MakeDirs(roots_.dev + "/vfio").ok());
    EXPECT_TRUE(WriteStringToFile(roots_.dev + "/vfio/" + std::to_string(group), "").ok());
  }
  std::string Read(const std::string& rel) const {
    auto s = ReadFileToString(roots_.sys + "/" + rel);
    return s.ok() ? *s : "<missing>";
  }
  std::string DevDir(const std::string& addr) const {
    return roots_.sys + "/bus/pci/devices/" + addr;
  }

 private:
  TempDir tmp_;
  VfioRoots roots_;
};

TEST(PciAddress, Syntax) {
  EXPECT_TRUE(IsPciAddress("0000:00:03.0"));
  EXPECT_TRUE(IsPciAddress("0000:af:1f.7"));
  EXPECT_TRUE(IsPciAddress("10000:01:00.0"));  // VMD domains have 5 digits
  for (const char* bad : {"00:03.0", "0000:00:03", "0000:00:03.8", "0000:0G:03.0", "0000:AF:00.0",
                          "0000:00:03.0/../../x", "../0000:00:03.0", "", "eth0"})
    EXPECT_FALSE(IsPciAddress(bad)) << bad;
}

TEST(VfioSysfs, ReadsDriverGroupAndMembers) {
  FakeSysfs fs;
  fs.Device("0000:00:03.0", "vmxnet3", 7);
  fs.Device("0000:00:03.1", "", 7);
  auto view = ReadVfioView({"0000:00:03.0"}, fs.roots());
  ASSERT_TRUE(view.ok()) << view.error().str();
  ASSERT_EQ(view->devices.size(), 1u);
  const VfioDevice& d = view->devices[0];
  EXPECT_EQ(d.driver, "vmxnet3");
  EXPECT_EQ(d.iommu_group, 7);
  EXPECT_EQ(d.group_members,
            (std::vector<PciDriverState>{{"0000:00:03.0", "vmxnet3"}, {"0000:00:03.1", ""}}));
  EXPECT_TRUE(view->vfio_pci_loaded);
}

TEST(VfioSysfs, UnknownDeviceIsAnError) {
  FakeSysfs fs;
  auto view = ReadVfioView({"0000:00:09.0"}, fs.roots());
  ASSERT_FALSE(view.ok());
  EXPECT_NE(view.error().str().find("no PCI device 0000:00:09.0"), std::string::npos)
      << view.error().str();
}

TEST(VfioSysfs, BindsADeviceStepByStep) {
  FakeSysfs fs;
  fs.Device("0000:00:03.0", "vmxnet3", 7);
  auto view = ReadVfioView({"0000:00:03.0"}, fs.roots());
  ASSERT_TRUE(view.ok()) << view.error().str();
  auto plan = PlanVfioBind(*view);
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  EXPECT_EQ(plan->writes, (std::vector<VfioWrite>{
                              {"bus/pci/drivers/vmxnet3/unbind", "0000:00:03.0"},
                              {"bus/pci/devices/0000:00:03.0/driver_override", "vfio-pci"},
                              {"bus/pci/drivers/vfio-pci/bind", "0000:00:03.0"},
                          }));
  EXPECT_EQ(plan->groups, std::vector<int>{7});

  ASSERT_TRUE(ApplyVfioPlan(*plan, fs.roots()).ok());
  EXPECT_EQ(fs.Read("bus/pci/drivers/vmxnet3/unbind"), "0000:00:03.0");
  EXPECT_EQ(fs.Read("bus/pci/devices/0000:00:03.0/driver_override"), "vfio-pci");
  EXPECT_EQ(fs.Read("bus/pci/drivers/vfio-pci/bind"), "0000:00:03.0");

  // The fake kernel did nothing: the check must notice.
  auto check = CheckVfioBound(*plan, fs.roots());
  ASSERT_FALSE(check.ok());
  EXPECT_NE(check.error().str().find("has driver vmxnet3 after binding"), std::string::npos)
      << check.error().str();
  fs.Bind("0000:00:03.0", "vfio-pci");
  check = CheckVfioBound(*plan, fs.roots());
  ASSERT_FALSE(check.ok());
  EXPECT_NE(check.error().str().find("/vfio/7 does not exist"), std::string::npos)
      << check.error().str();
  fs.GroupNode(7);
  EXPECT_TRUE(CheckVfioBound(*plan, fs.roots()).ok());
}

TEST(VfioSysfs, DriverlessDeviceIsNotUnbound) {
  FakeSysfs fs;
  fs.Device("0000:00:04.0", "", 2);
  auto view = ReadVfioView({"0000:00:04.0"}, fs.roots());
  ASSERT_TRUE(view.ok());
  auto plan = PlanVfioBind(*view);
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  EXPECT_EQ(plan->writes, (std::vector<VfioWrite>{
                              {"bus/pci/devices/0000:00:04.0/driver_override", "vfio-pci"},
                              {"bus/pci/drivers/vfio-pci/bind", "0000:00:04.0"},
                          }));
}

TEST(VfioSysfs, AlreadyOnVfioOnlyPinsTheOverride) {
  FakeSysfs fs;
  fs.Device("0000:00:04.0", "vfio-pci", 2);
  fs.GroupNode(2);
  auto plan = BindToVfio({"0000:00:04.0"}, fs.roots());
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  EXPECT_EQ(plan->writes, (std::vector<VfioWrite>{
                              {"bus/pci/devices/0000:00:04.0/driver_override", "vfio-pci"},
                          }));
  EXPECT_EQ(fs.Read("bus/pci/drivers/vfio-pci/bind"), "") << "no bind of a bound device";
}

TEST(VfioSysfs, WholeGroupNamedTogetherIsAccepted) {
  FakeSysfs fs;
  fs.Device("0000:01:00.0", "nouveau", 12);
  fs.Device("0000:01:00.1", "snd_hda_intel", 12);
  fs.Device("0000:01:00.2", "vfio-pci", 12);  // already handed over: fine
  auto view = ReadVfioView({"0000:01:00.0", "0000:01:00.1"}, fs.roots());
  ASSERT_TRUE(view.ok());
  auto plan = PlanVfioBind(*view);
  ASSERT_TRUE(plan.ok()) << plan.error().str();
  EXPECT_EQ(plan->writes.size(), 6u);
  EXPECT_EQ(plan->writes[3], (VfioWrite{"bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1"}));
  EXPECT_EQ(plan->groups, std::vector<int>{12});
}

TEST(VfioSysfs, RefusesAGroupWithAnUnnamedDevice) {
  FakeSysfs fs;
  fs.Device("0000:01:00.0", "nouveau", 12);
  fs.Device("0000:01:00.1", "snd_hda_intel", 12);
  auto plan = BindToVfio({"0000:01:00.0"}, fs.roots());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().str(),
            "vfio: PCI device 0000:01:00.0 shares IOMMU group 12 with 0000:01:00.1 (driver "
            "snd_hda_intel), which is not in devices; name every device of the group (ls "
            "/sys/kernel/iommu_groups/12/devices) or bind it to vfio-pci");
  EXPECT_EQ(fs.Read("bus/pci/drivers/nouveau/unbind"), "") << "nothing written on a refusal";
}

TEST(VfioSysfs, RefusesWithoutIommu) {
  FakeSysfs fs;
  fs.Device("0000:00:03.0", "vmxnet3", -1);
  auto plan = BindToVfio({"0000:00:03.0"}, fs.roots());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().str().find("has no IOMMU group: the IOMMU is off"), std::string::npos);
  EXPECT_NE(plan.error().str().find("intel_iommu=on"), std::string::npos);
  EXPECT_NE(plan.error().str().find("amd_iommu"), std::string::npos);
  EXPECT_EQ(plan.error().str().find('\n'), std::string::npos) << "one line";
}

TEST(VfioSysfs, RefusesWhatIsNotAPciAddressWithoutTouchingSysfs) {
  FakeSysfs fs;
  auto plan = BindToVfio({"../../../etc"}, fs.roots());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().str().find("\"../../../etc\" is not a PCI address"), std::string::npos)
      << plan.error().str();
}

TEST(VfioSysfs, RefusesWithoutTheVfioPciDriverAndDuplicates) {
  FakeSysfs fs;
  fs.Device("0000:00:03.0", "vmxnet3", 7);
  auto twice = BindToVfio({"0000:00:03.0", "0000:00:03.0"}, fs.roots());
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().str().find("named twice"), std::string::npos);
  fs.NoVfioPciDriver();
  auto plan = BindToVfio({"0000:00:03.0"}, fs.roots());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().str().find("modprobe vfio-pci"), std::string::npos) << plan.error().str();
}

TEST(VfioSysfs, MissingAttributeFileIsAnErrorNotANewFile) {
  FakeSysfs fs;
  fs.Device("0000:00:03.0", "vmxnet3", 7);
  ::unlink((fs.DevDir("0000:00:03.0") + "/driver_override").c_str());
  auto plan = BindToVfio({"0000:00:03.0"}, fs.roots());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().str().find("driver_override"), std::string::npos) << plan.error().str();
  EXPECT_EQ(fs.Read("bus/pci/devices/0000:00:03.0/driver_override"), "<missing>");
}

}  // namespace
}  // namespace initos
