// A classic-BPF interpreter over struct seccomp_data: runs a compiled
// seccomp program in a unit test to see what it decides for a syscall
// number and arguments, without installing it.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>

#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

// The SECCOMP_RET_* value the program returns for `data`.
Result<uint32_t> EvaluateSeccomp(const std::vector<sock_filter>& program, const seccomp_data& data);

}  // namespace jail
}  // namespace initos
