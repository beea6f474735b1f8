// Seccomp policy as data: a default action plus rules (syscall, optional
// argument conditions, action), compiled with libseccomp into a classic BPF
// program, which unit tests run through an evaluator (bpf_eval.h) against
// syscall numbers and arguments before any jail ever installs it (Chromium's
// bpf_dsl idea). The default policy blocks the kernel-attack and escape
// surface a container has no business with (kexec, modules, bpf,
// perf_event_open, keyctl, open_by_handle_at, userfaultfd, mount API on host
// objects, TIOCSTI/TIOCLINUX, ...).
#pragma once

#include <linux/filter.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace jail {

struct SeccompAction {
  enum class Kind { kAllow, kErrno, kKill };
  Kind kind = Kind::kAllow;
  int errno_value = 0;  // with kErrno
  bool operator==(const SeccompAction&) const = default;
};

// One comparison on a syscall argument (SCMP_CMP_* semantics).
struct SeccompArg {
  enum class Op { kEq, kNe, kMaskedEq };
  unsigned index = 0;  // 0..5
  Op op = Op::kEq;
  uint64_t value = 0;
  uint64_t mask = 0;  // kMaskedEq: (arg & mask) == value
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompRule {
  std::string syscall;  // name as libseccomp knows it ("kexec_load")
  SeccompAction action;
  std::vector<SeccompArg> args;  // all must match; empty: any arguments
  bool operator==(const SeccompRule&) const = default;
};

struct SeccompPolicy {
  SeccompAction default_action;  // allow for the deny-list default policy
  std::vector<SeccompRule> rules;
  bool operator==(const SeccompPolicy&) const = default;
};

// The policy every jail gets unless configured otherwise.
SeccompPolicy DefaultSeccompPolicy();

// A profile file (jail.seccomp = "/path"): TOML, documented in
// docs/jails-seccomp.md. Errors name the file, line and fix.
Result<SeccompPolicy> ParseSeccompProfile(std::string_view text, std::string_view filename);

// Compiled for the running architecture (x86_64; other arches killed).
Result<std::vector<sock_filter>> CompileSeccomp(const SeccompPolicy& policy);

// Installs a compiled program on the calling thread (needs no_new_privs or
// CAP_SYS_ADMIN). Last step before exec.
Result<void> InstallSeccomp(const std::vector<sock_filter>& program);

}  // namespace jail
}  // namespace initos
