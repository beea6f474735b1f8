// The SSH sidecar: an sshd that lives beside the OS and outlives it.
//
// PID 1 starts it just before the switch-root handover. The launcher forks a
// child that enters its own mount namespace (everything private, so the
// handover's mount moves do not touch it), mounts a NEW tmpfs, copies
// InitOS' own verified files into it from the initramfs (which is deleted
// right after), bind-mounts /dev /proc /sys, the OS root at /sysroot and the
// state partition at /run/initos/state, pivots into it and execs the initos
// binary copy as "@initos-sidecar sidecar ...". The leading '@' keeps it out
// of systemd's shutdown killing spree (systemd docs: ROOT_STORAGE_DAEMONS),
// and running from its own tmpfs pins nothing of the initramfs or the OS.
//
// The supervisor (`initos sidecar`) runs sshd in the foreground, restarts it
// with exponential backoff when it dies, logs to /dev/kmsg, and on SIGTERM
// stops sshd and exits 0. Once sshd is idle it has the kernel take back
// sshd's clean file pages (base/resident.h PageOutFilePages).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "format/config.h"
#include "sidecar/sshd_config.h"

namespace initos {
inline namespace sidecar {

struct SidecarSpec {
  std::string source_root = "/";   // where `files` are read from (the initramfs)
  std::vector<std::string> files;  // absolute paths (files or directories) to copy
  // initos binary to copy and exec in the sidecar root; "" runs the
  // supervisor in the forked child instead (tests, before the CLI has the
  // `sidecar` command).
  std::string initos_binary = "/init";
  std::string work_dir = "/run/initos/sidecar";  // mount point for the sidecar's tmpfs
  std::string os_root = "/sysroot";              // rbind-mounted at /sysroot
  std::string state_dir;                         // "" = no state (ephemeral host key)
  // Host directories bound at the same path in the sidecar (jail mode: the
  // jail control socket's directory, so admins reach `initos jail`).
  std::vector<std::string> extra_binds;
  std::vector<std::string> listen = {"0.0.0.0:22"};
  std::vector<std::string> authorized_keys;  // config sidecar.authorized-keys
  // PID 1's boot record (a host path) copied to the sidecar's own
  // /run/initos/status, which `initos status` reads: the OS's /run copy is
  // writable by root in the OS. "" = none (status then says "no record").
  std::string boot_status;
  std::string log_path = "/dev/kmsg";  // inside the sidecar root
  std::string tmpfs_size = "64m";
  int min_backoff_ms = 1000;
  int max_backoff_ms = 30000;
};

// Not "SupervisorOptions": init/supervisor.h has one, and two classes of one
// name in one namespace break the ODR (the linker merged their destructors
// and `initos sidecar` crashed).
struct SidecarSupervisorOptions {
  std::string sshd = "/usr/sbin/sshd";
  std::string keygen = "/usr/bin/ssh-keygen";
  std::string config = kSidecarSshdConfig;
  std::string host_key = kSidecarStateHostKey;
  std::string log_path = "/dev/kmsg";
  int min_backoff_ms = 1000;
  int max_backoff_ms = 30000;
  int stop_timeout_ms = 3000;
};

// Where the initos binary copy lives in the sidecar root, and its argv[0].
inline constexpr char kSidecarBinary[] = "/usr/lib/initos/initos";
inline constexpr char kSidecarArgv0[] = "@initos-sidecar";
// The `initos` command on a session's PATH: a symlink to kSidecarBinary.
inline constexpr char kSidecarCommand[] = "/usr/bin/initos";

// The spec PID 1 uses at boot: the files named by the initramfs manifest
// (root + kSidecarManifest) plus /etc/initos (config, keys), listen and keys
// from [sidecar], the state partition if mounted ("" = none).
Result<SidecarSpec> SidecarSpecForBoot(const SidecarConfig& config, const std::string& root,
                                       const std::string& state_dir);

// Starts the sidecar; returns its pid once it runs from its own root (setup
// errors in the child come back as the Error). The caller reaps it.
Result<pid_t> StartSidecar(const SidecarSpec& spec);

// The supervisor's options for a spec (host key, log, backoff): the
// arguments the sidecar is started with.
SidecarSupervisorOptions SupervisorOptionsFor(const SidecarSpec& spec);

// Fills dir (the sidecar's tmpfs, already mounted) with copies of the files,
// mount point directories, passwd/group, sshd_config and authorized_keys.
// Returns the supervisor options matching what it wrote.
Result<SidecarSupervisorOptions> PopulateSidecarRoot(const SidecarSpec& spec,
                                                     const std::string& dir);

// ---- sidecar.start = "after-os-init" ------------------------------------
// PID 1 fills the sidecar's root from the initramfs exactly as above, but
// into a tmpfs the OS inherits with /run (remounted read-only, nosuid,
// nodev) instead of a forked child's namespace, and leaves a runtime systemd
// unit that runs `initos sidecar launch` from that tmpfs once systemd is up.
// The launcher copies the tree into a fresh tmpfs in its own mount
// namespace, binds /dev /proc /sys, the OS root at /sysroot and the state
// partition, pivots and execs the same supervisor. Root in the OS can change
// the prepared tree or the unit before it runs: see
// docs/switch-root-and-sidecar.md for what each variant protects.
inline constexpr char kSidecarStagingDir[] = "/run/initos/sidecar";  // PID 1's /run = the OS's
inline constexpr char kSidecarUnitName[] = "initos-sidecar.service";
// The supervisor's options, one argument per line, inside the prepared tree.
inline constexpr char kSidecarSupervisorArgs[] = "/etc/initos/sidecar/supervisor.args";

// The unit text (pure): starts `STAGING/usr/lib/initos/initos sidecar
// launch --staging STAGING [--state STATE]` early, restarts it, stops it
// before shutdown.
std::string SidecarUnitText(const std::string& staging, const std::string& state_dir);

// PID 1, before the handover: mounts a tmpfs at staging, fills it
// (PopulateSidecarRoot plus kSidecarSupervisorArgs), remounts it
// read-only, and writes RUN/systemd/system/initos-sidecar.service with a
// multi-user.target.wants link. `staging` and `run` are PID 1's paths (under
// its root); unit_staging/unit_state are the same places as the OS will see
// them (/run moves into the OS unchanged).
Result<void> PrepareSidecarForOs(const SidecarSpec& spec, const std::string& staging,
                                 const std::string& run, const std::string& unit_staging,
                                 const std::string& unit_state);

// `initos sidecar launch`: in the OS (run by the unit), enters the prepared
// sidecar and execs its supervisor. Returns only on failure.
Result<void> LaunchPreparedSidecar(const std::string& staging, const std::string& state_dir,
                                   const std::string& tmpfs_size = "64m");

// Runs the supervisor in the current root until SIGTERM/SIGINT; exit code.
int RunSidecarSupervisor(const SidecarSupervisorOptions& options);

// `initos sidecar` arguments for options, and back (--help text in the CLI).
std::vector<std::string> SupervisorArgs(const SidecarSupervisorOptions& options);
Result<SidecarSupervisorOptions> ParseSupervisorArgs(const std::vector<std::string>& args);

// Next restart delay: doubles up to max; back to min after a long run.
int NextBackoffMs(int current_ms, int min_ms, int max_ms, bool ran_long);

// Creates the ed25519 host key with ssh-keygen if the file is missing
// (first boot); an existing key is kept, so the fingerprint is stable.
Result<void> EnsureHostKey(const std::string& keygen, const std::string& key_path);

}  // namespace sidecar
}  // namespace initos
