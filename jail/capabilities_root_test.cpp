// ApplyCapabilities for real in a forked child, read back from the kernel,
// before and after an execve.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "base/file.h"
#include "base/testing/test_child.h"
#include "jail/capabilities.h"

namespace initos {
namespace {

// "CapEff" → the hex mask in a /proc/PID/status text.
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

std::string Hex(uint64_t v) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// "" when the five sets in `status` are as expected, else what differs.
std::string CheckSets(const std::string& status, uint64_t eff_prm, uint64_t bnd) {
  std::string out;
  auto check = [&](const char* f, uint64_t want) {
    if (StatusField(status, f) != Hex(want))
      out += std::string(f) + "=" + StatusField(status, f) + " ";
  };
  check("CapEff", eff_prm);
  check("CapPrm", eff_prm);
  check("CapBnd", bnd);
  check("CapInh", 0);
  check("CapAmb", 0);
  return out;
}

// /proc/self/status as seen by a freshly exec'd program (uid 0, no file caps).
std::string StatusAfterExec() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 1);
    ::execl("/bin/cat", "cat", "/proc/self/status", nullptr);
    ::_exit(127);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  return out;
}

constexpr uint64_t kBind = 1ull << CAP_NET_BIND_SERVICE;

TEST(CapabilitiesRoot, OnlyKeptCapabilityRemainsAndSurvivesRootExec) {
  std::string r = RunInChild(
      []() -> std::string {
        auto applied = ApplyCapabilities({CAP_NET_BIND_SERVICE});
        if (!applied.ok()) return applied.error().str();
        auto status = ReadFileToString("/proc/self/status");
        if (!status.ok()) return status.error().str();
        std::string bad = CheckSets(*status, kBind, kBind);
        if (!bad.empty()) return "after apply: " + bad;
        // Dropped capabilities cannot be raised again.
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) == 0) {
          return "ambient raise of a dropped capability succeeded";
        }
        // uid 0's exec rule grants the bounding set: exactly what was kept.
        bad = CheckSets(StatusAfterExec(), kBind, kBind);
        return bad.empty() ? "" : "after exec: " + bad;
      },
      10);
  EXPECT_EQ(r, "");
}

TEST(CapabilitiesRoot, NoRootSecurebitsLeaveExecWithNothing) {
  std::string r = RunInChild(
      []() -> std::string {
        auto applied = ApplyCapabilities({CAP_NET_BIND_SERVICE}, kNoRootSecurebits);
        if (!applied.ok()) return applied.error().str();
        auto status = ReadFileToString("/proc/self/status");
        if (!status.ok()) return status.error().str();
        std::string bad = CheckSets(*status, kBind, kBind);
        if (!bad.empty()) return "after apply: " + bad;
        if (::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != static_cast<int>(kNoRootSecurebits)) {
          return "securebits " + std::to_string(::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
        }
        // Locked: they cannot be cleared, ambient cannot be raised.
        if (::prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0) return "securebits could be cleared";
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0) {
          return "ambient raise succeeded";
        }
        // Root execs no longer gain anything.
        bad = CheckSets(StatusAfterExec(), 0, kBind);
        return bad.empty() ? "" : "after exec: " + bad;
      },
      10);
  EXPECT_EQ(r, "");
}

TEST(CapabilitiesRoot, EmptyKeepDropsEverything) {
  std::string r = RunInChild(
      []() -> std::string {
        auto applied = ApplyCapabilities({});
        if (!applied.ok()) return applied.error().str();
        auto status = ReadFileToString("/proc/self/status");
        if (!status.ok()) return status.error().str();
        std::string bad = CheckSets(*status, 0, 0);
        if (!bad.empty()) return "after apply: " + bad;
        bad = CheckSets(StatusAfterExec(), 0, 0);
        return bad.empty() ? "" : "after exec: " + bad;
      },
      10);
  EXPECT_EQ(r, "");
}

}  // namespace
}  // namespace initos
