#include "cli/jail_cli.h"

#include <gtest/gtest.h>

#include "base/testing/test_util.h"

namespace initos {
namespace {

TEST(JailVfioBindCli, RefusesWhatIsNotAPciAddress) {
  auto r = testutil::RunProgram({INITOS_BINARY, "jail", "vfio-bind", "--dry-run", "eth0"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("\"eth0\" is not a PCI address"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(JailVfioBindCli, NeedsAddresses) {
  auto r = testutil::RunProgram({INITOS_BINARY, "jail", "vfio-bind"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("vfio-bind needs PCI addresses"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace initos
