// The default seccomp policy, the profile parser and the libseccomp compiler.
//
// Profile format (jail.seccomp = "/path/profile.toml"; docs/jails-seccomp.md):
//
//   default-action = "allow"            # "allow" | "kill" | "errno:EPERM" | "errno:1"
//
//   [[rule]]
//   syscalls = ["kexec_load", "bpf"]    # names as libseccomp knows them
//   action = "errno:EPERM"              # same forms as default-action
//
//   [[rule]]                            # conditions: all must hold
//   syscalls = ["ioctl"]
//   action = "errno:EPERM"
//   args = [{ index = 1, op = "masked-eq", value = 0x5412, mask = 0xffffffff }]
//
// `op` is "eq", "ne" or "masked-eq" ((arg & mask) == value); `value` and
// `mask` are TOML integers or strings ("0xffffffffffffffff" for values past
// int64). Each argument index at most once per rule (libseccomp's limit:
// write an OR as two rules). A rule's action must differ from default-action (libseccomp
// rejects it and it would mean nothing).
#include "jail/seccomp_policy.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "base/unique_fd.h"

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

namespace initos {
inline namespace jail {

namespace {

SeccompAction Eperm() {
  return SeccompAction{SeccompAction::Kind::kErrno, EPERM};
}

SeccompRule Deny(const char* name) {
  return SeccompRule{name, Eperm(), {}};
}

// Terminal ioctls that inject input into or reconfigure the console shared
// with the host (TIOCSTI: type commands into another session, CVE-2016-7545
// class; TIOCLINUX: selection/paste on the virtual console). The command is
// an `unsigned int`: compare only the low 32 bits, garbage above must not
// let it through.
SeccompRule DenyIoctl(uint64_t request) {
  return SeccompRule{"ioctl", Eperm(), {{1, SeccompArg::Op::kMaskedEq, request, 0xffffffffu}}};
}

}  // namespace

SeccompPolicy DefaultSeccompPolicy() {
  SeccompPolicy p;
  p.default_action = SeccompAction{};  // allow: a deny list, systemd must boot inside
  // Kernel code loading and replacement.
  for (const char* name :
       {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
        "perf_event_open", "uselib", "lookup_dcookie", "userfaultfd"}) {
    p.rules.push_back(Deny(name));
  }
  // The kernel keyring is not namespaced.
  for (const char* name : {"keyctl", "add_key", "request_key"}) p.rules.push_back(Deny(name));
  // File handles bypass the mount namespace (the "shocker" escape).
  for (const char* name : {"open_by_handle_at", "name_to_handle_at"}) {
    p.rules.push_back(Deny(name));
  }
  // Machine-wide state: power, swap, accounting, clocks, kernel log, ports.
  for (const char* name :
       {"reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime",
        "adjtimex", "syslog", "iopl", "ioperm", "quotactl", "nfsservctl", "vm86", "vm86old"}) {
    p.rules.push_back(Deny(name));
  }
  // The new mount API can take a detached tree of host objects (open_tree on
  // an fd passed in, fspick on a host superblock); mount(2) itself stays
  // allowed: the user namespace confines it and systemd needs it.
  for (const char* name :
       {"fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr"}) {
    p.rules.push_back(Deny(name));
  }
  // personality: only PER_LINUX (0) and the 0xffffffff query; other personas
  // (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...) weaken exploit mitigations.
  // libseccomp compares an argument at most once per rule, so "neither 0
  // nor 0xffffffff" is an OR of two-bit masks: a 32-bit value is neither
  // iff it has a set and a clear bit, and bit 0 can be taken as one of them.
  // Only the low 32 bits count (the kernel takes an unsigned int).
  for (unsigned k = 1; k < 32; ++k) {
    const uint64_t mask = 1u | (uint64_t{1} << k);
    p.rules.push_back({"personality", Eperm(), {{0, SeccompArg::Op::kMaskedEq, 1, mask}}});
    p.rules.push_back(
        {"personality", Eperm(), {{0, SeccompArg::Op::kMaskedEq, uint64_t{1} << k, mask}}});
  }
  p.rules.push_back(DenyIoctl(0x5412));  // TIOCSTI
  p.rules.push_back(DenyIoctl(0x541C));  // TIOCLINUX
  // Left allowed on purpose: ptrace (gdb/systemd inside, confined to the
  // jail's pid namespace) and clone/unshare with CLONE_NEWUSER (systemd
  // services use nested user namespaces; the jail's own is the boundary).
  return p;
}

// ---- profile parsing --------------------------------------------------------

namespace {

Result<int> ErrnoFromName(std::string_view name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos) {
    int v = std::atoi(std::string(name).c_str());
    if (v >= 1 && v <= 4095) return v;
    return Err() << "errno " << name << " out of range 1..4095";
  }
  for (int e = 1; e < 4096; ++e) {
    const char* n = strerrorname_np(e);
    if (n != nullptr && name == n) return e;
  }
  return Err() << "unknown errno name \"" << name << "\"";
}

Result<SeccompAction> ParseAction(std::string_view s) {
  if (s == "allow") return SeccompAction{};
  if (s == "kill") return SeccompAction{SeccompAction::Kind::kKill, 0};
  if (s.substr(0, 6) == "errno:") {
    auto e = ErrnoFromName(s.substr(6));
    if (!e.ok()) return e.error();
    return SeccompAction{SeccompAction::Kind::kErrno, *e};
  }
  return Err() << "unknown action \"" << s << "\"";
}

constexpr const char* kActionFix = "use \"allow\", \"kill\" or \"errno:NAME\" (e.g. errno:EPERM)";

class ProfileParser {
 public:
  explicit ProfileParser(std::string_view filename) : filename_(filename) {}

  Result<SeccompPolicy> Parse(std::string_view text) {
    toml::parse_result parsed = toml::parse(text, filename_);
    if (!parsed) {
      return Problem(parsed.error().source().begin.line,
                     "TOML syntax error: " + std::string(parsed.error().description()),
                     "fix the syntax (see docs/jails-seccomp.md)");
    }
    const toml::table& root = parsed.table();
    SeccompPolicy policy;
    bool have_default = false;
    for (const auto& [key, node] : root) {
      auto line = Line(key, node);
      if (key == "default-action") {
        const auto* s = node.as_string();
        if (s == nullptr) return Problem(line, "default-action must be a string", kActionFix);
        auto a = ParseAction(s->get());
        if (!a.ok()) return Problem(line, "default-action: " + a.error().str(), kActionFix);
        policy.default_action = *a;
        have_default = true;
      } else if (key == "rule") {
        const auto* arr = node.as_array();
        if (arr == nullptr) return Problem(line, "rule must be [[rule]] tables", "write [[rule]]");
        for (const auto& elem : *arr) {
          const auto* t = elem.as_table();
          if (t == nullptr) return Problem(line, "rule must be [[rule]] tables", "write [[rule]]");
          INITOS_TRY(ParseRule(*t, policy.rules));
        }
      } else {
        return Problem(line, "unknown key \"" + std::string(key.str()) + "\"",
                       "use default-action and [[rule]] only");
      }
    }
    if (!have_default) {
      return Problem(1, "default-action missing", "add default-action = \"allow\" (or kill)");
    }
    for (const auto& [rule, line] : rule_lines_) {
      if (policy.rules[rule].action == policy.default_action) {
        return Problem(line, "rule for " + policy.rules[rule].syscall + " has the default action",
                       "give it another action or remove it");
      }
    }
    return policy;
  }

 private:
  static uint32_t Line(const toml::key& key, const toml::node& node) {
    uint32_t l = key.source().begin.line;
    return l != 0 ? l : node.source().begin.line;
  }

  Error Problem(uint32_t line, const std::string& what, const std::string& fix) const {
    return Err() << filename_ << ":" << line << ": " << what << "; " << fix;
  }

  Result<uint64_t> Number(const toml::node& node, uint32_t line, const char* what) const {
    if (const auto* i = node.as_integer()) {
      if (i->get() < 0) return Problem(line, std::string(what) + " is negative", "use 0 or more");
      return static_cast<uint64_t>(i->get());
    }
    if (const auto* s = node.as_string()) {
      const std::string& str = s->get();
      char* end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(str.c_str(), &end, 0);
      if (!str.empty() && str[0] != '-' && errno == 0 && end != nullptr && *end == '\0') {
        return static_cast<uint64_t>(v);
      }
    }
    return Problem(line, std::string(what) + " is not a number",
                   "use an integer or a string like \"0xffffffffffffffff\"");
  }

  Result<void> ParseArg(const toml::table& t, uint32_t line, SeccompArg& arg) const {
    bool have_value = false, have_mask = false;
    for (const auto& [key, node] : t) {
      if (key == "index") {
        auto v = Number(node, line, "index");
        if (!v.ok()) return v.error();
        if (*v > 5) return Problem(line, "args index " + std::to_string(*v), "use 0..5");
        arg.index = static_cast<unsigned>(*v);
      } else if (key == "op") {
        const auto* s = node.as_string();
        std::string op = s != nullptr ? s->get() : "";
        if (op == "eq") {
          arg.op = SeccompArg::Op::kEq;
        } else if (op == "ne") {
          arg.op = SeccompArg::Op::kNe;
        } else if (op == "masked-eq") {
          arg.op = SeccompArg::Op::kMaskedEq;
        } else {
          return Problem(line, "unknown op \"" + op + "\"", "use \"eq\", \"ne\" or \"masked-eq\"");
        }
      } else if (key == "value") {
        auto v = Number(node, line, "value");
        if (!v.ok()) return v.error();
        arg.value = *v;
        have_value = true;
      } else if (key == "mask") {
        auto v = Number(node, line, "mask");
        if (!v.ok()) return v.error();
        arg.mask = *v;
        have_mask = true;
      } else {
        return Problem(line, "unknown args key \"" + std::string(key.str()) + "\"",
                       "use index, op, value, mask");
      }
    }
    if (!have_value) return Problem(line, "args entry without value", "add value = N");
    if (have_mask != (arg.op == SeccompArg::Op::kMaskedEq)) {
      return Problem(line, "mask goes with op = \"masked-eq\" and only with it",
                     "add or remove mask");
    }
    return {};
  }

  Result<void> ParseRule(const toml::table& t, std::vector<SeccompRule>& out) {
    uint32_t line = t.source().begin.line;
    std::vector<std::string> names;
    SeccompRule rule;
    bool have_action = false;
    for (const auto& [key, node] : t) {
      uint32_t kl = Line(key, node);
      if (key == "syscalls") {
        const auto* arr = node.as_array();
        if (arr == nullptr || arr->empty()) {
          return Problem(kl, "syscalls must be a non-empty array of names",
                         "write syscalls = [\"name\", ...]");
        }
        for (const auto& n : *arr) {
          const auto* s = n.as_string();
          if (s == nullptr) return Problem(kl, "syscalls entry is not a string", "quote names");
          if (seccomp_syscall_resolve_name(s->get().c_str()) == __NR_SCMP_ERROR) {
            return Problem(kl, "unknown syscall \"" + s->get() + "\"",
                           "use the kernel's name (see `man 2 syscalls`)");
          }
          names.push_back(s->get());
        }
      } else if (key == "action") {
        const auto* s = node.as_string();
        if (s == nullptr) return Problem(kl, "action must be a string", kActionFix);
        auto a = ParseAction(s->get());
        if (!a.ok()) return Problem(kl, "action: " + a.error().str(), kActionFix);
        rule.action = *a;
        have_action = true;
      } else if (key == "args") {
        const auto* arr = node.as_array();
        if (arr == nullptr) return Problem(kl, "args must be an array of tables", "see docs");
        for (const auto& e : *arr) {
          const auto* at = e.as_table();
          if (at == nullptr) return Problem(kl, "args entry is not a table", "use {index=...}");
          SeccompArg arg;
          INITOS_TRY(ParseArg(*at, kl, arg));
          for (const auto& prev : rule.args) {
            if (prev.index == arg.index) {
              return Problem(kl, "args index " + std::to_string(arg.index) + " compared twice",
                             "libseccomp compares an argument once per rule: split it into "
                             "two [[rule]]s");
            }
          }
          rule.args.push_back(arg);
        }
      } else {
        return Problem(kl, "unknown rule key \"" + std::string(key.str()) + "\"",
                       "use syscalls, action, args");
      }
    }
    if (names.empty()) return Problem(line, "rule without syscalls", "add syscalls = [...]");
    if (!have_action) return Problem(line, "rule without action", kActionFix);
    for (const auto& n : names) {
      rule.syscall = n;
      rule_lines_.emplace_back(out.size(), line);
      out.push_back(rule);
    }
    return {};
  }

  std::string filename_;
  std::vector<std::pair<size_t, uint32_t>> rule_lines_;  // rule index → line
};

}  // namespace

Result<SeccompPolicy> ParseSeccompProfile(std::string_view text, std::string_view filename) {
  return ProfileParser(filename).Parse(text);
}

// ---- compiling and installing -----------------------------------------------

namespace {

uint32_t ToScmpAction(const SeccompAction& a) {
  switch (a.kind) {
    case SeccompAction::Kind::kAllow:
      return SCMP_ACT_ALLOW;
    case SeccompAction::Kind::kErrno:
      return SCMP_ACT_ERRNO(static_cast<uint32_t>(a.errno_value));
    case SeccompAction::Kind::kKill:
      return SCMP_ACT_KILL_PROCESS;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare ToScmpOp(SeccompArg::Op op) {
  switch (op) {
    case SeccompArg::Op::kEq:
      return SCMP_CMP_EQ;
    case SeccompArg::Op::kNe:
      return SCMP_CMP_NE;
    case SeccompArg::Op::kMaskedEq:
      return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

Result<std::vector<sock_filter>> CompileSeccomp(const SeccompPolicy& policy) {
  // seccomp_init adds only the native architecture; anything else (i386 or
  // x32 entry points on x86_64, a classic bypass) hits the bad-arch action.
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(ToScmpAction(policy.default_action)));
  if (!ctx) return Err() << "seccomp_init failed; out of memory?";
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) return ErrnoErrorCode(-rc) << "seccomp: setting the bad-arch action";
  // A binary search over syscall numbers instead of one compare per rule:
  // every syscall of every jail runs this program.
  rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc != 0) return ErrnoErrorCode(-rc) << "seccomp: setting the binary-tree optimization";
  for (const auto& rule : policy.rules) {
    int nr = seccomp_syscall_resolve_name(rule.syscall.c_str());
    if (nr == __NR_SCMP_ERROR) {
      return Err() << "seccomp: unknown syscall \"" << rule.syscall
                   << "\"; use the kernel's name (see `man 2 syscalls`)";
    }
    std::vector<scmp_arg_cmp> cmps;
    for (const auto& a : rule.args) {
      if (a.index > 5)
        return Err() << "seccomp: " << rule.syscall << " arg index " << a.index
                     << " out of range; use 0..5";
      cmps.push_back(scmp_arg_cmp{a.index, ToScmpOp(a.op),
                                  a.op == SeccompArg::Op::kMaskedEq ? a.mask : a.value,
                                  a.op == SeccompArg::Op::kMaskedEq ? a.value : 0});
    }
    rc = seccomp_rule_add_array(ctx.get(), ToScmpAction(rule.action), nr,
                                static_cast<unsigned>(cmps.size()), cmps.data());
    if (rc != 0) {
      return ErrnoErrorCode(-rc) << "seccomp: adding the rule for " << rule.syscall
                                 << "; check its action differs from the default and its args";
    }
  }
  // libseccomp 2.5.4 only exports to an fd: through a memfd, read back.
  unique_fd mem(static_cast<int>(::memfd_create("seccomp-bpf", MFD_CLOEXEC)));
  if (!mem) return ErrnoError() << "memfd_create for the seccomp program";
  rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc != 0) return ErrnoErrorCode(-rc) << "seccomp_export_bpf";
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size < 0 || size % sizeof(sock_filter) != 0) {
    return Err() << "seccomp_export_bpf wrote " << size << " bytes, not whole instructions";
  }
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t got = ::pread(mem.get(), program.data(), static_cast<size_t>(size), 0);
  if (got != size) return ErrnoError() << "reading back the seccomp program";
  if (program.empty() || program.size() > BPF_MAXINSNS) {
    return Err() << "seccomp program has " << program.size() << " instructions; max "
                 << BPF_MAXINSNS;
  }
  return program;
}

Result<void> InstallSeccomp(const std::vector<sock_filter>& program) {
  if (program.empty() || program.size() > BPF_MAXINSNS) {
    return Err() << "seccomp program has " << program.size()
                 << " instructions; compile it with CompileSeccomp";
  }
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return ErrnoError() << "installing the seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)";
  }
  return {};
}

}  // namespace jail
}  // namespace initos
