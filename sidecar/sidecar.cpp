#include "sidecar/sidecar.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/options.h"
#include "base/resident.h"
#include "base/spawn.h"
#include "base/supervision.h"
#include "base/sys/syscalls.h"
#include "base/unique_fd.h"
#include "format/boot_status.h"
#include "os/mounts.h"
#include "sidecar/sidecar_files.h"

namespace initos {
inline namespace sidecar {
namespace {

std::string Dirname(const std::string& p) {
  size_t s = p.rfind('/');
  return s == 0 || s == std::string::npos ? "/" : p.substr(0, s);
}

// Copies src to dst: regular files by content (symlinks at the top level are
// followed: ldd names /lib/x86_64-linux-gnu/libz.so.1, a link), directories
// recursively with their symlinks kept as links.
// The one tree copier (base/file.h); "sidecar: " in front of its errors.
Result<void> CopyPath(const std::string& src, const std::string& dst, bool follow) {
  auto r = CopyTree(src, dst, CopyOptions{follow, false});
  if (!r.ok()) return Err() << "sidecar: " << r.error().str();
  return {};
}

Result<void> BindMount(const std::string& src, const std::string& dst, bool recursive) {
  INITOS_TRY(MakeDirs(dst));
  unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
  if (::mount(src.c_str(), dst.c_str(), nullptr, flags, nullptr) != 0) {
    return ErrnoError() << "sidecar: bind " << src << " -> " << dst;
  }
  return {};
}

// pivot_root fails with EINVAL when "/" is the kernel's rootfs, which it is
// in PID 1 before the handover. Do what switch_root does instead, in this
// namespace only: move the sidecar tmpfs to a directory on rootfs, detach
// every other mount (the copies of /dev /proc /sys /run /sysroot; the
// tmpfs has its own rbinds), move the tmpfs onto "/" and chroot into it.
Result<void> MoveOntoRootfs(const std::string& dir) {
  const std::string top = "/.initos-sidecar";
  if (::mkdir(top.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError() << "mkdir " << top;
  if (::mount(dir.c_str(), top.c_str(), nullptr, MS_MOVE, nullptr) != 0)
    return ErrnoError() << "sidecar: move " << dir << " to " << top;
  auto text = ReadFileToString("/proc/self/mountinfo");
  if (!text.ok()) return text.error();
  auto mounts = ParseMountInfo(*text);
  int root_id = -1;
  for (const auto& m : mounts)
    if (m.mount_point == "/") root_id = m.id;
  for (const auto& m : mounts) {
    if (m.parent_id != root_id || m.mount_point == "/" || m.mount_point == top) continue;
    if (::umount2(m.mount_point.c_str(), MNT_DETACH) != 0)
      return ErrnoError() << "sidecar: detach " << m.mount_point;
  }
  if (::chdir(top.c_str()) != 0) return ErrnoError() << "sidecar: chdir " << top;
  if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0)
    return ErrnoError() << "sidecar: move " << top << " onto /";
  if (::chroot(".") != 0) return ErrnoError() << "sidecar: chroot into its tmpfs";
  return {};
}

// A private mount namespace: the handover's MS_MOVEs (or the OS's later
// mounts) must not propagate here, and nothing mounted here leaks back.
Result<void> EnterPrivateMountNamespace() {
  if (::unshare(CLONE_NEWNS) != 0) return ErrnoError() << "sidecar: unshare(CLONE_NEWNS)";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoError() << "sidecar: make mounts private";
  }
  return {};
}

Result<void> MountSidecarTmpfs(const std::string& dir, const std::string& size) {
  INITOS_TRY(MakeDirs(dir));
  std::string opts = "mode=0755";
  if (!size.empty()) opts += ",size=" + size;
  if (::mount("initos-sidecar", dir.c_str(), "tmpfs", MS_NOSUID, opts.c_str()) != 0) {
    return ErrnoError() << "sidecar: mount tmpfs on " << dir;
  }
  return {};
}

// The binds into the filled tmpfs `dir`, then pivot into it: /dev /proc
// /sys from api_root, the OS root at /sysroot, the state partition.
Result<void> BindAndEnterSidecarRoot(const std::string& dir, const std::string& api_root,
                                     const std::string& os_root, const std::string& state_dir,
                                     const std::vector<std::string>& extra_binds = {}) {
  for (const char* api : {"/dev", "/proc", "/sys"}) {
    INITOS_TRY(BindMount(PathUnderRoot(api_root, api), dir + api, true));
  }
  INITOS_TRY(BindMount(os_root, dir + "/sysroot", true));
  if (!state_dir.empty()) INITOS_TRY(BindMount(state_dir, dir + kSidecarStateDir, true));
  for (const std::string& d : extra_binds) {
    INITOS_TRY(MakeDirs(dir + d, 0755));
    INITOS_TRY(BindMount(d, dir + d, true));
  }

  // pivot_root(".", ".") stacks the old root under the new one; detaching
  // it leaves this namespace with nothing of the initramfs (or the OS).
  if (::chdir(dir.c_str()) != 0) return ErrnoError() << "sidecar: chdir " << dir;
  if (sys::PivotRoot(".", ".") == 0) {
    if (::umount2(".", MNT_DETACH) != 0) return ErrnoError() << "sidecar: detach the old root";
  } else if (errno == EINVAL) {
    // The kernel's rootfs (a real initramfs boot) cannot be pivoted away.
    INITOS_TRY(MoveOntoRootfs(dir));
  } else {
    return ErrnoError() << "sidecar: pivot_root into " << dir;
  }
  if (::chdir("/") != 0) return ErrnoError() << "sidecar: chdir /";
  return {};
}

// Everything the child does before exec: namespace, tmpfs, copies, binds,
// pivot_root. Returns the supervisor options for the new root.
Result<SidecarSupervisorOptions> SetUpSidecarRoot(const SidecarSpec& spec) {
  INITOS_TRY(EnterPrivateMountNamespace());
  const std::string dir = spec.work_dir;
  INITOS_TRY(MountSidecarTmpfs(dir, spec.tmpfs_size));
  auto options = PopulateSidecarRoot(spec, dir);
  if (!options.ok()) return options.error();
  INITOS_TRY(BindAndEnterSidecarRoot(dir, spec.source_root, spec.os_root, spec.state_dir,
                                     spec.extra_binds));
  return options;
}

}  // namespace

SidecarSupervisorOptions SupervisorOptionsFor(const SidecarSpec& spec) {
  SidecarSupervisorOptions o;
  o.host_key = spec.state_dir.empty() ? kSidecarEphemeralHostKey : kSidecarStateHostKey;
  o.log_path = spec.log_path;
  o.min_backoff_ms = spec.min_backoff_ms;
  o.max_backoff_ms = spec.max_backoff_ms;
  return o;
}

Result<SidecarSupervisorOptions> PopulateSidecarRoot(const SidecarSpec& spec,
                                                     const std::string& dir) {
  for (const auto& f : spec.files) {
    if (f.empty() || f[0] != '/') return Err() << "sidecar: file '" << f << "' must be absolute";
    INITOS_TRY(CopyPath(PathUnderRoot(spec.source_root, f), dir + f, true));
  }
  if (!spec.initos_binary.empty()) {
    INITOS_TRY(CopyPath(spec.initos_binary, dir + kSidecarBinary, true));
    // `initos status|logs` in an ssh session: sshd's default PATH has
    // /usr/bin, the copy's directory is not meant to be on it.
    INITOS_TRY(MakeDirs(dir + "/usr/bin"));
    if (::symlink(kSidecarBinary, (dir + kSidecarCommand).c_str()) != 0 && errno != EEXIST)
      return ErrnoError() << "sidecar: symlink " << kSidecarCommand;
  }
  struct {
    const char* path;
    mode_t mode;
  } dirs[] = {{"/dev", 0755},
              {"/proc", 0755},
              {"/sys", 0755},
              {"/sysroot", 0755},
              {"/run", 0755},
              {"/run/sshd", 0755},
              {"/run/initos/state", 0755},
              {"/root", 0700},
              {"/tmp", 01777},
              {"/bin", 0755},
              {kSidecarEtc, 0755}};
  for (const auto& d : dirs) {
    INITOS_TRY(MakeDirs(dir + d.path));
    if (::chmod((dir + d.path).c_str(), d.mode) != 0) return ErrnoError() << "chmod " << d.path;
  }
  // busybox runs as sh (and its applets) by the name it is called with.
  struct stat st {};
  if (::lstat((dir + "/bin/busybox").c_str(), &st) == 0 &&
      ::lstat((dir + "/bin/sh").c_str(), &st) != 0) {
    if (::symlink("busybox", (dir + "/bin/sh").c_str()) != 0) return ErrnoError() << "/bin/sh";
  }
  if (!spec.boot_status.empty()) {
    // A copy taken now, from what PID 1 wrote before the handover: later
    // changes to the OS's /run/initos/status do not reach it.
    auto record = ReadFileToString(spec.boot_status);
    if (record.ok()) {
      INITOS_TRY(MakeDirs(dir + "/run/initos"));
      INITOS_TRY(WriteStringToFile(dir + kBootStatusPath, *record, 0444));
    } else if (record.error().code != ENOENT) {
      return Wrap(record.error(), "sidecar: copy the boot record");
    }
  }
  INITOS_TRY(WriteStringToFile(dir + "/etc/passwd", SidecarPasswd(), 0644));
  INITOS_TRY(WriteStringToFile(dir + "/etc/group", SidecarGroup(), 0644));

  SidecarSupervisorOptions o = SupervisorOptionsFor(spec);
  SshdConfigSpec cfg;
  cfg.listen = spec.listen;
  cfg.host_keys = {o.host_key};
  // Only the signed config's keys: the state partition is writable by root
  // in the OS, so a key file there is not trusted.
  cfg.authorized_keys_files = {kSidecarAuthorizedKeys};
  INITOS_TRY(WriteStringToFile(dir + kSidecarSshdConfig, GenerateSshdConfig(cfg), 0644));
  INITOS_TRY(WriteStringToFile(dir + kSidecarAuthorizedKeys,
                               AuthorizedKeysText(spec.authorized_keys), 0644));
  return o;
}

Result<SidecarSpec> SidecarSpecForBoot(const SidecarConfig& config, const std::string& root,
                                       const std::string& state_dir) {
  const std::string manifest = PathUnderRoot(root, kSidecarManifest);
  auto text = ReadFileToString(manifest);
  if (!text.ok()) {
    return Err() << "sidecar: " << manifest << " missing: build the initramfs with "
                 << "`initos image initramfs --with-sshd` or set sidecar.enable = false";
  }
  auto files = ParseSidecarManifest(*text);
  if (!files.ok()) return files.error();
  SidecarSpec spec;
  spec.source_root = root;
  spec.files = std::move(*files);
  spec.files.push_back("/etc/initos");
  spec.initos_binary = PathUnderRoot(root, "/init");
  spec.listen = config.listen;
  spec.authorized_keys = config.authorized_keys;
  spec.boot_status = PathUnderRoot(root, kBootStatusPath);
  spec.state_dir = state_dir;
  return spec;
}

namespace {

// How long the sidecar's setup (namespace, tmpfs, copies, pivot_root) may
// take before PID 1 gives up on it.
constexpr int kSetupTimeoutMs = 120000;

}  // namespace

Result<pid_t> StartSidecar(const SidecarSpec& spec) {
  if (spec.initos_binary.empty())
    return Err() << "sidecar: no initos binary to run the supervisor from; set "
                    "SidecarSpec::initos_binary";
  SpawnOptions so;
  so.argv = {kSidecarBinary, "sidecar"};
  for (auto& a : SupervisorArgs(SupervisorOptionsFor(spec))) so.argv.push_back(a);
  so.argv0 = kSidecarArgv0;
  so.new_session = true;  // no controlling terminal, own process group
  // Failed, or hung (copying from a stuck device, say): PID 1 must not wait
  // forever for the setup.
  so.start_timeout = std::chrono::milliseconds(kSetupTimeoutMs);
  so.close_other_fds = true;  // nothing of PID 1's reaches the sidecar
  so.steps.push_back({"set up the sidecar root", [&spec]() -> Result<void> {
                        auto options = SetUpSidecarRoot(spec);
                        if (!options.ok()) return options.error();
                        return {};
                      }});
  return Spawn(so);
}

std::string SidecarUnitText(const std::string& staging, const std::string& state_dir) {
  std::string exec = staging + kSidecarBinary + " sidecar launch --staging " + staging;
  if (!state_dir.empty()) exec += " --state " + state_dir;
  return "# Written by InitOS PID 1 before the switch-root handover (sidecar.start =\n"
         "# \"after-os-init\"); a runtime unit, gone with /run at the next boot.\n"
         "[Unit]\n"
         "Description=InitOS SSH sidecar\n"
         "Documentation=file:/usr/share/doc/initos/switch-root-and-sidecar.md\n"
         // As early as possible: the network came up in the initramfs, and
         // the sidecar is the way in when the OS's own boot is stuck.
         "DefaultDependencies=no\n"
         "Conflicts=shutdown.target\n"
         "Before=shutdown.target\n"
         "\n"
         "[Service]\n"
         "Type=simple\n"
         "ExecStart=" +
         exec +
         "\n"
         // The supervisor restarts sshd itself; this covers the supervisor.
         "Restart=always\n"
         "RestartSec=2\n"
         // SIGTERM to the supervisor only (it stops sshd), then SIGKILL for
         // sessions left over.
         "KillMode=mixed\n"
         "TimeoutStopSec=15\n";
}

Result<void> PrepareSidecarForOs(const SidecarSpec& spec, const std::string& staging,
                                 const std::string& run, const std::string& unit_staging,
                                 const std::string& unit_state) {
  INITOS_TRY(MakeDirs(staging, 0700));
  std::string opts = "mode=0700";
  if (!spec.tmpfs_size.empty()) opts += ",size=" + spec.tmpfs_size;
  if (::mount("initos-sidecar", staging.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
    return ErrnoError() << "sidecar: mount tmpfs on " << staging;
  auto options = PopulateSidecarRoot(spec, staging);
  if (!options.ok()) return options.error();
  std::string args;
  for (const auto& a : SupervisorArgs(*options)) {
    if (a.find('\n') != std::string::npos)
      return Err() << "sidecar: supervisor argument '" << a << "' has a line break";
    args += a + "\n";
  }
  INITOS_TRY(WriteStringToFile(staging + kSidecarSupervisorArgs, args, 0644));
  // Read-only in the OS: root there can remount it, but nothing writes it
  // by accident, and nosuid/nodev keep it from being a way up for others.
  if (::mount(nullptr, staging.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
              opts.c_str()) != 0)
    return ErrnoError() << "sidecar: remount " << staging << " read-only";
  const std::string units = run + "/systemd/system";
  INITOS_TRY(MakeDirs(units + "/multi-user.target.wants"));
  INITOS_TRY(WriteStringToFile(units + "/" + kSidecarUnitName,
                               SidecarUnitText(unit_staging, unit_state), 0644));
  const std::string link = units + "/multi-user.target.wants/" + kSidecarUnitName;
  (void)::unlink(link.c_str());
  if (::symlink((std::string("../") + kSidecarUnitName).c_str(), link.c_str()) != 0)
    return ErrnoError() << "sidecar: symlink " << link;
  return {};
}

Result<void> LaunchPreparedSidecar(const std::string& staging, const std::string& state_dir,
                                   const std::string& tmpfs_size) {
  auto text = ReadFileToString(staging + kSidecarSupervisorArgs);
  if (!text.ok())
    return Err() << "sidecar: " << staging << kSidecarSupervisorArgs << " missing ("
                 << text.error().str() << "): PID 1 prepares it with sidecar.start = "
                 << "\"after-os-init\"; was this boot started by InitOS?";
  std::vector<std::string> args;
  for (size_t at = 0; at < text->size();) {
    size_t nl = text->find('\n', at);
    if (nl == std::string::npos) nl = text->size();
    args.push_back(text->substr(at, nl - at));
    at = nl + 1;
  }
  auto options = ParseSupervisorArgs(args);
  if (!options.ok()) return options.error();
  INITOS_TRY(EnterPrivateMountNamespace());
  // The prepared tree stays reachable through this fd once a fresh tmpfs
  // covers its path in this namespace.
  auto src = OpenFile(staging, O_RDONLY | O_DIRECTORY);
  if (!src.ok()) return src.error();
  INITOS_TRY(MountSidecarTmpfs(staging, tmpfs_size));
  INITOS_TRY(CopyPath("/proc/self/fd/" + std::to_string(src->get()), staging, true));
  src->reset();
  INITOS_TRY(BindAndEnterSidecarRoot(staging, "/", "/", state_dir));
  std::vector<std::string> argv_s = {kSidecarArgv0, "sidecar"};
  for (auto& a : SupervisorArgs(*options)) argv_s.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(kSidecarBinary, argv.data());
  return ErrnoError() << "sidecar: exec " << kSidecarBinary;
}

std::vector<std::string> SupervisorArgs(const SidecarSupervisorOptions& o) {
  return {"--sshd",
          o.sshd,
          "--keygen",
          o.keygen,
          "--config",
          o.config,
          "--host-key",
          o.host_key,
          "--log",
          o.log_path,
          "--min-backoff-ms",
          std::to_string(o.min_backoff_ms),
          "--max-backoff-ms",
          std::to_string(o.max_backoff_ms),
          "--stop-timeout-ms",
          std::to_string(o.stop_timeout_ms)};
}

Result<SidecarSupervisorOptions> ParseSupervisorArgs(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--sshd", "", true},
                                 {"--keygen", "", true},
                                 {"--config", "", true},
                                 {"--host-key", "", true},
                                 {"--log", "", true},
                                 {"--min-backoff-ms", "", true},
                                 {"--max-backoff-ms", "", true},
                                 {"--stop-timeout-ms", "", true}});
  if (!a.ok()) return Err() << "sidecar: " << a.error().str() << " (see --help)";
  if (!a->positional().empty())
    return Err() << "sidecar: unexpected argument '" << a->positional()[0] << "' (see --help)";
  SidecarSupervisorOptions o;
  o.sshd = a->One("--sshd").value_or(o.sshd);
  o.keygen = a->One("--keygen").value_or(o.keygen);
  o.config = a->One("--config").value_or(o.config);
  o.host_key = a->One("--host-key").value_or(o.host_key);
  o.log_path = a->One("--log").value_or(o.log_path);
  auto number = [&a](const char* name, int* out) -> Result<void> {
    auto v = a->One(name);
    if (!v) return {};
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || n < 0 || n > 3600000)
      return Err() << "sidecar: " << name << " '" << *v << "' must be 0..3600000";
    *out = static_cast<int>(n);
    return {};
  };
  INITOS_TRY(number("--min-backoff-ms", &o.min_backoff_ms));
  INITOS_TRY(number("--max-backoff-ms", &o.max_backoff_ms));
  INITOS_TRY(number("--stop-timeout-ms", &o.stop_timeout_ms));
  if (o.min_backoff_ms > o.max_backoff_ms) o.max_backoff_ms = o.min_backoff_ms;
  return o;
}

int NextBackoffMs(int current_ms, int min_ms, int max_ms, bool ran_long) {
  if (ran_long || current_ms < min_ms) return min_ms;
  long next = static_cast<long>(current_ms) * 2;
  return static_cast<int>(std::min<long>(next, max_ms));
}

namespace {

// sshd counts as idle when its Rss did not change for this long and no
// session (a forked child) runs: a session maps the same pages, and the
// kernel leaves pages two processes map. Given up (and released anyway)
// after kIdleChecksMax checks.
constexpr double kIdleCheckSeconds = 0.5;
constexpr int kIdleChecksMax = 120;
// After a release: every kRecheckSeconds, once idle, again if logins have
// faulted kRegrowKb back in.
constexpr double kRecheckSeconds = 30;
constexpr long kRegrowKb = 256;

class SidecarLog {
 public:
  explicit SidecarLog(const std::string& path) {
    auto fd = OpenFile(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0600);
    if (fd.ok()) fd_ = std::move(*fd);
  }
  int fd() const { return fd_.get(); }
  // One write per line: /dev/kmsg takes each write as one record.
  void Line(int priority, const std::string& msg) const {
    if (!fd_.ok()) return;
    std::string s = "<" + std::to_string(priority) + ">initos-sidecar: " + msg + "\n";
    (void)!::write(fd_.get(), s.data(), s.size());
  }

 private:
  unique_fd fd_;
};

// sshd's resident pages (statm, in pages), -1 if unreadable.
long ResidentPages(pid_t pid) {
  auto statm = ReadFileToString("/proc/" + std::to_string(pid) + "/statm");
  if (!statm.ok()) return -1;
  long size = 0, resident = -1;
  if (std::sscanf(statm->c_str(), "%ld %ld", &size, &resident) != 2) return -1;
  return resident;
}

// Does pid have children (sshd's sessions)? False if unknown.
bool HasChildren(pid_t pid) {
  const std::string p = std::to_string(pid);
  auto children = ReadFileToString("/proc/" + p + "/task/" + p + "/children");
  return children.ok() && children->find_first_not_of(" \n") != std::string::npos;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

Result<void> EnsureHostKey(const std::string& keygen, const std::string& key_path) {
  // The key may live on the state partition, which a disk attacker writes:
  // anything but a regular file there (a symlink to another file, a FIFO
  // that would hang sshd) is replaced by a fresh key, never followed.
  struct stat st {};
  for (const std::string& f : {key_path, key_path + ".pub"}) {
    if (::lstat(f.c_str(), &st) != 0 || S_ISREG(st.st_mode)) continue;
    if (::unlink(f.c_str()) != 0 && errno != ENOENT)
      return ErrnoError() << "sidecar: " << f << " is not a regular file and cannot be removed";
  }
  if (::lstat(key_path.c_str(), &st) == 0) return {};
  INITOS_TRY(MakeDirs(Dirname(key_path), 0700));
  SpawnOptions so;
  so.argv = {keygen, "-q", "-t", "ed25519", "-N", "", "-C", "initos-sidecar", "-f", key_path};
  auto null = OpenFile("/dev/null", O_RDWR);
  if (null.ok()) so.stdin_fd = null->get();
  // Bounded: a keygen stuck on entropy or a hung disk must not leave the
  // sidecar without sshd and without a word.
  auto f = SpawnAndWait(so, /*merge_stderr=*/true, std::chrono::seconds(60));
  if (!f.ok()) return Wrap(f.error(), "sidecar: host key " + key_path);
  if (!f->succeeded()) {
    std::string out = f->output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return Err() << "sidecar: " << keygen << " for " << key_path << " "
                 << DescribeStatus(f->wait_status) << (out.empty() ? "" : ": " + out);
  }
  return {};
}

int RunSidecarSupervisor(const SidecarSupervisorOptions& o) {
  SidecarLog log(o.log_path);
  sigset_t mask;
  ::sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGCHLD, SIGHUP}) ::sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  unique_fd sfd(::signalfd(-1, &mask, SFD_CLOEXEC));
  if (!sfd.ok()) {
    log.Line(3, std::string("signalfd: ") + std::strerror(errno));
    return 1;
  }
  auto key = EnsureHostKey(o.keygen, o.host_key);
  if (!key.ok()) {
    log.Line(3, key.error().str() + "; sshd cannot start without a host key");
    return 1;
  }

  // "@sshd" keeps sshd out of systemd's killing spree too; sshd re-execs
  // itself by argv[0] unless -r, so -r goes with it.
  const std::vector<std::string> sshd_argv = {o.sshd, "-D", "-e", "-r", "-f", o.config};
  unique_fd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  constexpr Supervision::ChildId kSshd = 0;
  // A deadline only (no child in this slot): when sshd is idle, release
  // its clean file pages.
  constexpr Supervision::ChildId kSshdIdle = 1;
  Supervision loop(sfd.get(), /*reap_orphans=*/true);
  double started = 0;
  int backoff = o.min_backoff_ms;
  bool stopping = false;
  long last_resident = -1;      // sshd's resident pages at the last idle check
  long released_resident = -1;  // ... after the last release (-1: none yet)
  int idle_checks = 0;
  log.Line(6, "started, supervising " + o.sshd);

  // The policy: sshd runs; when it ends it comes back after a backoff that
  // grows in a crash loop; SIGTERM/SIGINT stop it (SIGKILL after the stop
  // timeout) and then the supervisor.
  auto restart_later = [&] {
    loop.SetDeadline(kSshd, MonotonicSeconds() + backoff / 1000.0);
    backoff = NextBackoffMs(backoff, o.min_backoff_ms, o.max_backoff_ms, false);
  };
  auto start_sshd = [&] {
    SpawnOptions so;
    so.argv = sshd_argv;
    so.argv0 = "@sshd";
    so.stdin_fd = dev_null.get();
    so.stdout_fd = so.stderr_fd = log.fd();  // -1: inherit
    so.close_other_fds = true;
    auto pid = Spawn(so);
    if (!pid.ok()) {
      log.Line(3, "start sshd: " + pid.error().str());
      return restart_later();
    }
    if (auto w = loop.Watch(kSshd, *pid); !w.ok()) log.Line(4, w.error().str());
    started = MonotonicSeconds();
    log.Line(6, "sshd started (pid " + std::to_string(*pid) + ")");
    last_resident = released_resident = -1;
    idle_checks = 0;
    loop.SetDeadline(kSshdIdle, started + kIdleCheckSeconds);
  };
  // Debian's sshd listener is ~9 MiB of Rss, almost all clean pages of its
  // 28 files mapped at start-up, most never touched again while it waits
  // (docs/performance.md). Once it has touched no new page for
  // kIdleCheckSeconds and serves no session, the kernel takes them back; a
  // connection faults in what it needs again, which a check every
  // kRecheckSeconds gives back once sshd is idle again.
  auto check_sshd_idle = [&] {
    const pid_t pid = loop.Pid(kSshd);
    if (pid == 0 || stopping) return;
    const long page_kb = ::sysconf(_SC_PAGESIZE) / 1024;
    const long resident = ResidentPages(pid);
    const bool busy = resident != last_resident || HasChildren(pid);
    last_resident = resident;
    const bool first = released_resident < 0;
    const double next = first ? kIdleCheckSeconds : kRecheckSeconds;
    if ((busy && (!first || ++idle_checks < kIdleChecksMax)) ||
        (!first && (resident - released_resident) * page_kb < kRegrowKb)) {
      loop.SetDeadline(kSshdIdle, MonotonicSeconds() + next);
      // A recheck faults in the supervisor's own code again (fault-around:
      // ~0.9 MiB for reading two /proc files): give it back as well.
      if (!first && StartupPagesReleased()) ReleaseStartupPages();
      return;
    }
    unique_fd pidfd(sys::PidfdOpen(pid, 0));
    auto r = pidfd.ok() ? PageOutFilePages(pidfd.get(), pid)
                        : Result<PageOutResult>(ErrnoError() << "pidfd_open " << pid);
    if (!r.ok()) {
      // Not fatal: an old kernel (ENOSYS), no CAP_SYS_NICE (EPERM).
      log.Line(6, "sshd's pages stay resident: " + r.error().str());
      return;
    }
    const long after = ResidentPages(pid);
    released_resident = std::max(after, 0L);
    loop.SetDeadline(kSshdIdle, MonotonicSeconds() + kRecheckSeconds);
    // The maps text and page lists were the heap's high-water mark: give
    // its free pages back too (the supervisor's own idle release follows).
    ::malloc_trim(0);
    log.Line(first ? 6 : 7, std::string("sshd idle: released its clean file pages") +
                                (first ? "" : " again") + ", Rss " +
                                std::to_string(resident * page_kb) + " -> " +
                                std::to_string(after * page_kb) + " kB");
    if (!first && StartupPagesReleased()) ReleaseStartupPages();
  };
  Supervision::Events events;
  events.exited = [&](Supervision::ChildId, int status) {
    if (stopping) {
      log.Line(6, "stopped");
      return true;
    }
    // A crash loop backs off; a long healthy run starts over at min.
    if (MonotonicSeconds() - started >= 10) backoff = o.min_backoff_ms;
    loop.ClearDeadline(kSshdIdle);
    log.Line(
        4, "sshd " + DescribeStatus(status) + "; restarting in " + std::to_string(backoff) + " ms");
    restart_later();
    return false;
  };
  events.deadline = [&](Supervision::ChildId id) {
    if (id == kSshdIdle) {
      check_sshd_idle();
      return false;
    }
    if (!stopping) {
      start_sshd();
    } else {
      log.Line(4, "sshd did not stop in time; killing it");
      loop.Signal(kSshd, SIGKILL);
      loop.SetDeadline(kSshd, MonotonicSeconds() + 10);
    }
    return false;
  };
  events.signal = [&](const signalfd_siginfo& si) {
    if ((si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT) || stopping) return false;
    log.Line(6, std::string("received ") + ::strsignal(si.ssi_signo) + ", stopping sshd");
    stopping = true;
    loop.ClearDeadline(kSshd);  // no restart pending any more
    loop.ClearDeadline(kSshdIdle);
    if (loop.Pid(kSshd) == 0) {
      log.Line(6, "stopped");
      return true;
    }
    loop.Signal(kSshd, SIGTERM);
    loop.SetDeadline(kSshd, MonotonicSeconds() + o.stop_timeout_ms / 1000.0);
    return false;
  };
  start_sshd();
  auto r = loop.Run(events);
  if (!r.ok()) {
    log.Line(3, r.error().str());
    return 1;
  }
  return 0;
}

}  // namespace sidecar
}  // namespace initos
