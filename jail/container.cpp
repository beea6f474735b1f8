#include "jail/container.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "base/file.h"
#include "base/spawn.h"
#include "jail/capabilities.h"
#include "jail/cgroup.h"
#include "jail/container_plan.h"
#include "jail/mount_plan.h"
#include "jail/mounts.h"
#include "jail/net.h"
#include "jail/process_steps.h"
#include "jail/seccomp_policy.h"
#include "jail/user.h"

namespace initos {
inline namespace jail {
namespace {

bool Unprivileged(const ContainerSpec& spec) {
  return spec.config.kind == JailKind::kUnprivileged;
}

std::string Hostname(const JailConfig& c) {
  return c.hostname.empty() ? c.name : c.hostname;
}

// Everything decided before the clone, so the child only executes.
struct Prepared {
  std::vector<int> capabilities;
  std::optional<std::vector<sock_filter>> seccomp;  // nullopt: unconfined
};

Result<Prepared> Prepare(const ContainerSpec& spec) {
  const JailConfig& c = spec.config;
  if (c.kind == JailKind::kVm) return Err() << "jail " << c.name << ": kind vm is not a container";
  if (JailChainArgv(c).empty()) return Err() << "jail " << c.name << ": empty command";
  if (c.reaper && spec.reaper_exec_fd < 0)
    return Err() << "jail " << c.name << ": reaper = true needs the sealed initos (SealedSelf)";
  if (Unprivileged(spec) && (spec.uid_map.host == 0 || spec.uid_map.count == 0 ||
                             spec.gid_map.host == 0 || spec.gid_map.count == 0))
    return Err() << "jail " << c.name
                 << ": unprivileged jail needs a uid/gid range that excludes host id 0";
  if (auto r = CheckRlimits(c.rlimits); !r.ok()) return r.error();
  Prepared p;
  auto caps = CapabilitiesFromNames(c.capabilities);
  if (!caps.ok()) return caps.error();
  p.capabilities = *caps;
  if (c.seccomp != "unconfined") {
    SeccompPolicy policy;
    if (c.seccomp == "default") {
      policy = DefaultSeccompPolicy();
    } else {
      auto text = ReadFileToString(c.seccomp);
      if (!text.ok()) return Err() << "seccomp profile: " << text.error().str();
      auto parsed = ParseSeccompProfile(*text, c.seccomp);
      if (!parsed.ok()) return parsed.error();
      policy = *parsed;
    }
    auto prog = CompileSeccomp(policy);
    if (!prog.ok()) return prog.error();
    p.seccomp = *prog;
  } else if (Unprivileged(spec)) {
    return Err() << "jail " << c.name << ": seccomp = \"unconfined\" is for privileged jails only";
  }
  return p;
}

// The steps after the process is inside the jail's root: rlimits, ids,
// capabilities, no_new_privs, seccomp (last, so nothing before it needs a
// syscall the policy denies). Without no_new_privs the kernel only lets a
// process holding CAP_SYS_ADMIN install a filter: then seccomp goes first,
// while the jail's root still has it (as runc does).
void AddProcessSteps(std::vector<ChildStep>& steps, const JailConfig& c, const Prepared& p) {
  steps.push_back({"set rlimits", [&c] { return ApplyRlimits(c.rlimits); }});
  if (p.seccomp && !c.no_new_privileges)
    steps.push_back({"install seccomp", [&p] { return InstallSeccomp(*p.seccomp); }});
  steps.push_back(
      {"switch to the jail's user", [&c] { return SwitchToJailUser(c.user, c.group); }});
  steps.push_back({"cut capabilities", [&p] { return ApplyCapabilities(p.capabilities); }});
  if (c.no_new_privileges) steps.push_back({"set no_new_privs", [] { return SetNoNewPrivs(); }});
  if (p.seccomp && c.no_new_privileges)
    steps.push_back({"install seccomp", [&p] { return InstallSeccomp(*p.seccomp); }});
}

// The pid behind a pidfd ("Pid:" of its fdinfo).
Result<pid_t> PidOfPidfd(int pidfd) {
  auto info = ReadFileToString("/proc/self/fdinfo/" + std::to_string(pidfd));
  if (!info.ok()) return info.error();
  size_t at = info->find("\nPid:\t");
  if (at == std::string::npos) return Err() << "fd " << pidfd << " is not a pidfd";
  return static_cast<pid_t>(std::atoi(info->c_str() + at + 6));
}

// ExecInContainer's middle process (outside the jail's pid namespace, its
// signals still all blocked from Spawn): passes the usual stop and job
// signals on to the program in the jail and exits with its status, so the
// caller can treat the pid it got like the program's.
int ForwardSignalsAndWait(pid_t child) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD})
    sigaddset(&set, sig);
  for (;;) {
    int status = 0;
    pid_t w = ::waitpid(child, &status, WNOHANG);
    if (w == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (w < 0 && errno != EINTR) return 127;
    int sig = ::sigwaitinfo(&set, nullptr);
    if (sig > 0 && sig != SIGCHLD) ::kill(child, sig);
  }
}

}  // namespace

Result<StartedContainer> StartContainer(const ContainerSpec& spec) {
  const JailConfig& c = spec.config;
  auto prepared = Prepare(spec);
  if (!prepared.ok()) return prepared.error();

  StartedContainer started;
  JailCgroup cgroup;
  if (!spec.cgroup_parent.empty()) {
    auto cg = CreateJailCgroup(spec.cgroup_parent, c.name, c.limits);
    if (!cg.ok()) return Err() << "jail " << c.name << ": cgroup: " << cg.error().str();
    cgroup = std::move(*cg);
    started.cgroup = cgroup.path;
    if (Unprivileged(spec)) {
      if (auto r = DelegateCgroup(cgroup.path, spec.uid_map.host, spec.gid_map.host); !r.ok()) {
        (void)RemoveJailCgroup(cgroup.path);
        return Err() << "jail " << c.name << ": " << r.error().str();
      }
    }
  }

  // The console pty slave belongs to the jail's root, as a terminal
  // belongs to whoever logs in on it: otherwise /dev/console (a bind of it)
  // is the unmapped host root's and the jail cannot reopen it.
  const bool console_is_tty = spec.console_fd >= 0 && ::isatty(spec.console_fd);
  if (console_is_tty && Unprivileged(spec) &&
      ::fchown(spec.console_fd, spec.uid_map.host, spec.gid_map.host) != 0) {
    Error e = ErrnoError() << "jail " << c.name << ": chown the console to the jail's root";
    if (!cgroup.path.empty()) (void)RemoveJailCgroup(cgroup.path);
    return e;
  }

  MountPlanInput mi;
  mi.config = &c;
  mi.user_namespace = Unprivileged(spec);
  mi.new_netns = true;
  mi.console_is_tty = console_is_tty;
  mi.gid5_mapped = !Unprivileged(spec) || spec.gid_map.count > 5;
  const std::vector<MountStep> plan = BuildMountPlan(mi);

  SpawnOptions o;
  o.argv = ContainerArgv(c);
  o.env = ContainerEnv(c, spec.extra_env);
  o.exec_fd = c.reaper ? spec.reaper_exec_fd : -1;
  o.new_session = true;
  o.controlling_tty = mi.console_is_tty;
  o.stdin_fd = o.stdout_fd = o.stderr_fd = spec.console_fd;
  o.clone_flags = ContainerCloneFlags(c);
  o.cgroup_fd = cgroup.dir.get();
  o.pidfd_out = &started.pidfd;
  o.close_other_fds = true;
  o.parent_step = [&](pid_t child) -> Result<void> {
    if (Unprivileged(spec)) {
      if (auto r = WriteIdMaps(child, spec.uid_map, spec.gid_map, false); !r.ok()) return r;
    }
    return SetUpHostNetwork(c.name, c.network, child);
  };
  const std::string rootfs = spec.rootfs;
  if (Unprivileged(spec))
    o.steps.push_back({"become root of the user namespace", [] { return BecomeNamespaceRoot(); }});
  const bool chroot_ok =
      std::none_of(prepared->capabilities.begin(), prepared->capabilities.end(),
                   [](int cap) { return cap == CAP_SYS_ADMIN || cap == CAP_SYS_CHROOT; });
  o.steps.push_back(
      {"set up the jail root", [&, chroot_ok] { return SetUpJailRoot(rootfs, plan, chroot_ok); }});
  o.steps.push_back({"set the hostname", [&] { return SetJailHostname(Hostname(c)); }});
  o.steps.push_back(
      {"set up the jail network", [&] { return SetUpJailNetwork(c.name, c.network); }});
  AddProcessSteps(o.steps, c, *prepared);

  auto pid = Spawn(o);
  if (!pid.ok()) {
    TearDownHostNetwork(c.name, c.network);
    if (!cgroup.path.empty()) (void)RemoveJailCgroup(cgroup.path);
    return Err() << "jail " << c.name << ": " << pid.error().str();
  }
  started.pid = *pid;
  return started;
}

void CleanUpContainer(const ContainerSpec& spec, const StartedContainer& started) {
  TearDownHostNetwork(spec.config.name, spec.config.network);
  if (!started.cgroup.empty()) (void)RemoveJailCgroup(started.cgroup);
}

Result<unique_fd> SealedSelf() {
  return SealedCopy("/proc/self/exe", "initos");
}

Result<unique_fd> SealedCopy(const std::string& path, const char* memfd_name) {
  unique_fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src.ok()) return ErrnoError() << "open " << path;
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) return ErrnoError() << "stat " << path;
  unique_fd mem(::memfd_create(memfd_name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem.ok()) return ErrnoError() << "memfd_create for a sealed copy of " << path;
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = ::sendfile(mem.get(), src.get(), &off, static_cast<size_t>(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError() << "copy " << path << " into the memfd";
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
      0)
    return ErrnoError() << "seal the memfd of " << path;
  return mem;
}

Result<pid_t> ExecInContainer(const ExecSpec& spec) {
  if (spec.container == nullptr || spec.jail_pidfd < 0 || spec.argv.empty())
    return Err() << "exec in jail: container, pidfd and argv are required";
  const ContainerSpec& cs = *spec.container;
  const JailConfig& c = cs.config;
  auto prepared = Prepare(cs);
  if (!prepared.ok()) return prepared.error();

  unique_fd cgroup;
  if (!cs.cgroup_parent.empty()) {
    std::string path = cs.cgroup_parent + "/" + c.name;
    if (auto jail_pid = PidOfPidfd(spec.jail_pidfd); jail_pid.ok())
      path = CgroupOfPidUnder(path, *jail_pid);
    cgroup.reset(::open(path.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!cgroup.ok()) return ErrnoError() << "exec in jail " << c.name << ": open cgroup " << path;
  }
  SpawnOptions o;
  o.argv = spec.argv;
  o.env = ContainerEnv(c, cs.extra_env);
  o.stdin_fd = spec.stdin_fd;
  o.stdout_fd = spec.stdout_fd;
  o.stderr_fd = spec.stderr_fd;
  o.cgroup_fd = cgroup.get();
  o.close_other_fds = true;
  int ns = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
           CLONE_NEWCGROUP | (Unprivileged(cs) ? CLONE_NEWUSER : 0);
  const int pidfd = spec.jail_pidfd;
  o.steps.push_back({"enter the jail's namespaces", [pidfd, ns]() -> Result<void> {
                       if (::setns(pidfd, ns) != 0) return ErrnoError() << "setns by pidfd";
                       // The pid namespace applies to children only: fork, and
                       // let this process wait and pass on the exit status
                       // (nsenter --fork). It drops every fd (the spawn status
                       // pipe included) so only the child reports.
                       pid_t child = ::fork();
                       if (child < 0) return ErrnoError() << "fork into the jail's pid namespace";
                       if (child == 0) return {};
                       ::close_range(0, ~0U, 0);
                       ::_exit(ForwardSignalsAndWait(child));
                     }});
  AddProcessSteps(o.steps, c, *prepared);
  // Dies with the middle process (SIGKILLed by a caller giving up), here
  // since a uid change clears the parent-death signal; before seccomp.
  o.steps.insert(o.steps.end() - (prepared->seccomp ? 1 : 0),
                 {"die with the exec helper", []() -> Result<void> {
                    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
                      return ErrnoError() << "PR_SET_PDEATHSIG";
                    return {};
                  }});
  return Spawn(o);
}

}  // namespace jail
}  // namespace initos
