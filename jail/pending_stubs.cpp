// TEMPORARY: minimal stand-ins for capabilities.cpp, seccomp_policy.cpp and
// net.cpp, which other branches write. The lead deletes this file when
// merging; nothing else in jail/ depends on it beyond the headers.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/unique_fd.h"
#include "jail/capabilities.h"
#include "jail/net.h"
#include "jail/seccomp_policy.h"

namespace initos {
inline namespace jail {

Result<int> CapabilityFromName(std::string_view name) {
  std::string n(name);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!n.starts_with("cap_")) n = "cap_" + n;
  cap_value_t v;
  if (cap_from_name(n.c_str(), &v) != 0) return Err() << "unknown capability " << name;
  return static_cast<int>(v);
}

Result<std::vector<int>> CapabilitiesFromNames(const std::vector<std::string>& names) {
  std::vector<int> out;
  for (const auto& n : names) {
    auto c = CapabilityFromName(n);
    if (!c.ok()) return c.error();
    out.push_back(*c);
  }
  return out;
}

Result<void> ApplyCapabilities(const std::vector<int>& keep) {
  auto kept = [&](int c) {
    for (int k : keep)
      if (k == c) return true;
    return false;
  };
  // After a switch to a non-root uid (PR_SET_KEEPCAPS) only the permitted
  // set is left: raise it to effective so CAP_SETPCAP can cut the rest.
  if (cap_t cur = cap_get_proc()) {
    for (cap_value_t c = 0; c <= CAP_LAST_CAP; ++c) {
      cap_flag_value_t v = CAP_CLEAR;
      if (cap_get_flag(cur, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
        cap_set_flag(cur, CAP_EFFECTIVE, 1, &c, CAP_SET);
    }
    cap_set_proc(cur);
    cap_free(cur);
  }
  for (int c = 0; c <= CAP_LAST_CAP; ++c)
    if (!kept(c) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      return ErrnoError() << "drop capability " << c << " from the bounding set";
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  cap_t caps = cap_init();
  std::vector<cap_value_t> v(keep.begin(), keep.end());
  if (!v.empty()) {
    cap_set_flag(caps, CAP_PERMITTED, static_cast<int>(v.size()), v.data(), CAP_SET);
    cap_set_flag(caps, CAP_EFFECTIVE, static_cast<int>(v.size()), v.data(), CAP_SET);
  }
  int r = cap_set_proc(caps);
  cap_free(caps);
  if (r != 0) return ErrnoError() << "capset";
  return {};
}

// A few rules of the real default policy, enough for the probe tests.
SeccompPolicy DefaultSeccompPolicy() {
  SeccompPolicy p;
  SeccompAction eperm{SeccompAction::Kind::kErrno, EPERM};
  for (const char* name : {"keyctl", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
                           "init_module", "finit_module", "open_by_handle_at"})
    p.rules.push_back({name, eperm, {}});
  p.rules.push_back({"ioctl", eperm, {{1, SeccompArg::Op::kEq, TIOCSTI, 0}}});
  return p;
}

Result<SeccompPolicy> ParseSeccompProfile(std::string_view, std::string_view filename) {
  return Err() << filename << ": seccomp profiles not built yet";
}

namespace {

uint32_t ActionOf(const SeccompAction& a) {
  switch (a.kind) {
    case SeccompAction::Kind::kAllow:
      return SCMP_ACT_ALLOW;
    case SeccompAction::Kind::kErrno:
      return SCMP_ACT_ERRNO(static_cast<uint16_t>(a.errno_value));
    case SeccompAction::Kind::kKill:
      return SCMP_ACT_KILL_PROCESS;
  }
  return SCMP_ACT_KILL_PROCESS;
}

}  // namespace

Result<std::vector<sock_filter>> CompileSeccomp(const SeccompPolicy& policy) {
  scmp_filter_ctx ctx = seccomp_init(ActionOf(policy.default_action));
  if (ctx == nullptr) return Err() << "seccomp_init";
  for (const auto& r : policy.rules) {
    int nr = seccomp_syscall_resolve_name(r.syscall.c_str());
    if (nr == __NR_SCMP_ERROR) {
      seccomp_release(ctx);
      return Err() << "seccomp: unknown syscall " << r.syscall;
    }
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : r.args) {
      if (a.op == SeccompArg::Op::kMaskedEq)
        args.push_back({a.index, SCMP_CMP_MASKED_EQ, a.mask, a.value});
      else
        args.push_back(
            {a.index, a.op == SeccompArg::Op::kEq ? SCMP_CMP_EQ : SCMP_CMP_NE, a.value, 0});
    }
    if (seccomp_rule_add_array(ctx, ActionOf(r.action), nr, static_cast<unsigned>(args.size()),
                               args.data()) != 0) {
      seccomp_release(ctx);
      return Err() << "seccomp: rule for " << r.syscall;
    }
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    seccomp_release(ctx);
    return ErrnoError() << "pipe";
  }
  unique_fd rd(fds[0]), wr(fds[1]);
  int rc = seccomp_export_bpf(ctx, wr.get());
  seccomp_release(ctx);
  wr.reset();
  if (rc != 0) return Err() << "seccomp_export_bpf";
  auto bytes = ReadFdToString(rd.get());
  if (!bytes.ok()) return bytes.error();
  std::vector<sock_filter> prog(bytes->size() / sizeof(sock_filter));
  std::memcpy(prog.data(), bytes->data(), prog.size() * sizeof(sock_filter));
  return prog;
}

Result<void> InstallSeccomp(const std::vector<sock_filter>& program) {
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
    return ErrnoError() << "install seccomp filter";
  return {};
}

Result<void> SetUpHostNetwork(const std::string&, const JailNetwork& net, pid_t) {
  if (net.kind == JailNetworkKind::kNone || net.kind == JailNetworkKind::kLoopback) return {};
  return Err() << "network " << JailNetworkKindName(net.kind) << ": network not built yet";
}

Result<void> SetUpJailNetwork(const std::string&, const JailNetwork& net) {
  if (net.kind != JailNetworkKind::kLoopback) return {};
  unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.ok()) return ErrnoError() << "socket";
  struct ifreq ifr {};
  std::strcpy(ifr.ifr_name, "lo");
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return ErrnoError() << "get lo flags";
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return ErrnoError() << "bring lo up";
  return {};
}

void TearDownHostNetwork(const std::string&, const JailNetwork&) {}

std::string DefaultVethName(const std::string& jail_name) {
  return ("ve-" + jail_name).substr(0, 15);
}

}  // namespace jail
}  // namespace initos
