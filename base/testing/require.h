// Skips that may only happen on a host, never where the feature is promised
// (header-only, tests only). scripts/root-tests-in-vm.sh runs the root tests on
// the Debian test kernel with INITOS_REQUIRE_KERNEL_FEATURES=1: there a missing
// device-mapper, loop device, dm-verity or erofs is a test failure, not a skip.
// On a host kernel without them the test skips, and scripts/test.sh fails
// unless the skip is listed in tests/skip-allowlist.txt.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace initos::testutil {

inline bool KernelFeaturesRequired() {
  const char* v = std::getenv("INITOS_REQUIRE_KERNEL_FEATURES");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace initos::testutil

// INITOS_KERNEL_FEATURE_MISSING() << "why": like GTEST_SKIP() << "why" on a
// host; a fatal failure (returning from the current function) where kernel
// features are required. Only for what the kernel lacks, not for missing tools.
#define INITOS_KERNEL_FEATURE_MISSING()                                                       \
  return GTEST_MESSAGE_(                                                                      \
      ::initos::testutil::KernelFeaturesRequired() ? "Required kernel feature missing "       \
                                                     "(INITOS_REQUIRE_KERNEL_FEATURES=1)"     \
                                                   : "",                                      \
      ::initos::testutil::KernelFeaturesRequired() ? ::testing::TestPartResult::kFatalFailure \
                                                   : ::testing::TestPartResult::kSkip)
