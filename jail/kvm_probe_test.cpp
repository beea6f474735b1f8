#include "jail/kvm_probe.h"

#include <gtest/gtest.h>

#include <chrono>

namespace initos {
namespace {

TEST(KvmProbe, ReturnsWithinItsTimeout) {
  // Nested KVM hangs in KVM_RUN on some hosts: the probe must answer anyway.
  auto start = std::chrono::steady_clock::now();
  KvmProbe p = ProbeKvm("/dev/kvm", std::chrono::milliseconds(1500));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(3000)) << p.why;
  EXPECT_FALSE(p.why.empty());
}

TEST(KvmProbe, MissingDeviceDoesNotWork) {
  KvmProbe p = ProbeKvm("/nonexistent/kvm");
  EXPECT_FALSE(p.works);
  EXPECT_NE(p.why.find("/nonexistent/kvm"), std::string::npos) << p.why;
}

TEST(KvmProbe, NotAKvmDeviceDoesNotWork) {
  KvmProbe p = ProbeKvm("/dev/null");
  EXPECT_FALSE(p.works);
  EXPECT_NE(p.why.find("KVM"), std::string::npos) << p.why;
}

TEST(KvmProbe, CachedAnswerIsStable) {
  const KvmProbe& a = CachedKvmProbe();
  const KvmProbe& b = CachedKvmProbe();
  EXPECT_EQ(&a, &b);
}

TEST(ChooseAccel, AutoFollowsTheProbe) {
  auto kvm = ChooseAccel("auto", KvmProbe{true, "ok"});
  ASSERT_TRUE(kvm.ok());
  EXPECT_EQ(kvm->accel, "kvm");
  auto tcg = ChooseAccel("auto", KvmProbe{false, "hung"});
  ASSERT_TRUE(tcg.ok());
  EXPECT_EQ(tcg->accel, "tcg");
  EXPECT_NE(tcg->why.find("hung"), std::string::npos);
}

TEST(ChooseAccel, KvmWithoutKvmIsAnErrorNamingTheFix) {
  auto r = ChooseAccel("kvm", KvmProbe{false, "KVM_RUN hung"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("accel = \"auto\""), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().str().find("KVM_RUN hung"), std::string::npos);
  auto ok = ChooseAccel("kvm", KvmProbe{true, "ok"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->accel, "kvm");
}

TEST(ChooseAccel, TcgAlwaysAndUnknownRefused) {
  auto r = ChooseAccel("tcg", KvmProbe{true, "ok"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accel, "tcg");
  EXPECT_FALSE(ChooseAccel("xen", KvmProbe{true, "ok"}).ok());
}

}  // namespace
}  // namespace initos
