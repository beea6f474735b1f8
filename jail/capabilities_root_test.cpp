// ApplyCapabilities for real in a forked child, read back from the kernel.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>

#include <sstream>

#include "base/file.h"
#include "base/testing/test_child.h"
#include "jail/capabilities.h"

namespace initos {
namespace {

// "CapEff" → the hex mask in /proc/self/status.
std::string StatusField(const std::string& status, const std::string& field) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      auto v = line.substr(field.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "missing";
}

std::string CheckSets(uint64_t expected) {
  auto status = ReadFileToString("/proc/self/status");
  if (!status.ok()) return status.error().str();
  char want[17];
  snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(expected));
  std::string out;
  for (const char* f : {"CapEff", "CapPrm", "CapBnd"}) {
    if (StatusField(*status, f) != want)
      out += std::string(f) + "=" + StatusField(*status, f) + " ";
  }
  for (const char* f : {"CapInh", "CapAmb"}) {
    if (StatusField(*status, f) != "0000000000000000") {
      out += std::string(f) + "=" + StatusField(*status, f) + " ";
    }
  }
  return out;
}

TEST(CapabilitiesRoot, OnlyKeptCapabilityRemainsInEverySet) {
  std::string r = RunInChild(
      []() -> std::string {
        auto applied = ApplyCapabilities({CAP_NET_BIND_SERVICE});
        if (!applied.ok()) return applied.error().str();
        std::string bad = CheckSets(1ull << CAP_NET_BIND_SERVICE);
        if (!bad.empty()) return "after apply: " + bad;
        int bits = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        if (!(bits & SECBIT_NOROOT) || !(bits & SECBIT_NOROOT_LOCKED)) {
          return "securebits " + std::to_string(bits) + " lack NOROOT(_LOCKED)";
        }
        // Locked: cannot be turned back off, and dropped caps cannot be raised.
        if (::prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0) return "securebits could be cleared";
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0) {
          return "ambient raise succeeded";
        }
        return "";
      },
      10);
  EXPECT_EQ(r, "");
}

TEST(CapabilitiesRoot, EmptyKeepDropsEverything) {
  std::string r = RunInChild(
      []() -> std::string {
        auto applied = ApplyCapabilities({});
        if (!applied.ok()) return applied.error().str();
        std::string bad = CheckSets(0);
        return bad.empty() ? "" : "after apply: " + bad;
      },
      10);
  EXPECT_EQ(r, "");
}

}  // namespace
}  // namespace initos
