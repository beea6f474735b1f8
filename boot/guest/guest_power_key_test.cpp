// The guest's power button watcher without a VM (the press itself powers
// the guest off: qemu-tests/vm_jail_debian_test.cpp shows it).
#include "boot/guest/guest_power_key.h"

#include <gtest/gtest.h>
#include <linux/input.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

TEST(GuestPowerKeyTest, NoInputDevicesNamesTheModules) {
  testutil::TempDir dir;
  auto r = OpenPowerKeys(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("evdev"), std::string::npos) << r.error().str();
  ASSERT_TRUE(MakeDirs(dir.path() + "/dev/input").ok());
  // Not an evdev node: EVIOCGBIT fails, so it has no power key.
  ASSERT_TRUE(WriteStringToFile(dir.path() + "/dev/input/event0", "").ok());
  r = OpenPowerKeys(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("load button"), std::string::npos) << r.error().str();
}

TEST(GuestPowerKeyTest, OtherKeysAndReleasesAreIgnoredUntilEof) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  input_event ev[3] = {};
  ev[0].type = EV_KEY;
  ev[0].code = KEY_VOLUMEUP;
  ev[0].value = 1;
  ev[1].type = EV_KEY;
  ev[1].code = KEY_POWER;
  ev[1].value = 0;  // a release, never a press
  ev[2].type = EV_SYN;
  ASSERT_EQ(::write(p[1], ev, sizeof(ev)), static_cast<ssize_t>(sizeof(ev)));
  ::close(p[1]);
  // No press: it reads to the end and reports the lost device.
  EXPECT_EQ(GuestPowerKeyMain({"--fd", std::to_string(p[0])}), 1);
  ::close(p[0]);
  EXPECT_EQ(GuestPowerKeyMain({}), 2);
}

}  // namespace
}  // namespace initos
