// InitOS configuration: the data PID 1 acts on. Parsed from TOML
// (/etc/initos/initos.toml in the initramfs) and overridden by kernel
// command-line keys `initos.SECTION.KEY=VALUE`. Pure data, no syscalls.
// Every key is documented in configs/initos.toml.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/signals.h"  // [init.signals] names: KILL, STOP and CHLD are refused there
#include "format/jail_config.h"

namespace initos {
inline namespace format {

// Where PID 1 reads the config (inside the signed initramfs).
inline constexpr std::string_view kDefaultConfigPath = "/etc/initos/initos.toml";

// What PID 1 does when the main program ends.
enum class OnExit { kPoweroff, kReboot, kRespawn, kShell, kHalt };

// What PID 1 does with a signal it receives.
enum class SignalAction { kForward, kPoweroff, kReboot, kHalt, kIgnore };

// How PID 1 hands the machine over once the root is ready. kJails: PID 1
// keeps the machine and runs the [[jail]] entries (at least one is required).
enum class InitMode { kRun, kSwitchRoot, kJails };

// When the SSH sidecar starts in switch-root mode: before PID 1 hands over
// (it is then a child of the OS init), or from a runtime systemd unit that
// PID 1 leaves in the OS's /run/systemd/system (started once systemd is up).
enum class SidecarStart { kBeforeHandover, kAfterOsInit };

// What PID 1 does when the root image cannot be verified or mounted.
enum class OnFailure { kReboot, kHalt, kShell, kPoweroff };

// dm-verity corruption policy.
enum class CorruptionPolicy { kEio, kRestart, kPanic };

struct InitConfig {
  InitMode mode = InitMode::kRun;
  std::vector<std::string> main;  // argv of the main program; empty: none
  OnExit on_exit = OnExit::kPoweroff;
  std::vector<std::string> modules;              // kernel modules to load (deps resolved)
  std::vector<std::string> shell = {"/bin/sh"};  // emergency shell argv
  bool allow_shell = false;                      // may PID 1 ever start the emergency shell?
  int stop_timeout_ms = 5000;                    // SIGTERM → SIGKILL grace at shutdown
  int respawn_delay_ms = 1000;                   // wait before respawning the main program
  int respawn_limit = 5;  // respawns within respawn_window_s before giving up
  int respawn_window_s = 60;
  int failure_delay_s = 10;                // pause before a failure reboot, for the console
  std::map<std::string, std::string> env;  // environment for the main program
  std::map<int, SignalAction> signals;     // signal number → action (defaults filled in)
  std::string os_init;                     // switch-root: init of the OS ("" = search)
  // switch-root: the whole argv exec'd as the OS's PID 1 instead of os_init
  // (a VM jail's chain). Signed config only; refused together with os_init.
  std::vector<std::string> os_argv;
  std::string log_level = "info";  // emerg..debug
  // Keys the kernel command line may set outside development mode (signed
  // config only). Keys that choose what runs or what is trusted can never be
  // listed (ConfigKeyInfo::cmdline says which).
  std::vector<std::string> cmdline_overrides;

  bool operator==(const InitConfig&) const = default;
};

struct RootfsConfig {
  std::string image;  // "PARTLABEL=x", "LABEL=x", "LABEL=x:/path/f.bundle"; "" = none
  // A/B slots instead of image (issue 12): two locators in image's syntax,
  // slot a then slot b; PID 1 picks one from the boot-state record on the
  // state partition (docs/upgrades.md). Mutually exclusive with image.
  std::vector<std::string> slots;
  uint32_t tries = 3;             // trial boots of a newly written slot before falling back
  std::string name;               // the manifest name an image must carry (required with image)
  std::vector<std::string> keys;  // trusted public keys (PEM paths in the initramfs)
  uint64_t min_version = 0;       // lowest version ever accepted
  OnFailure on_failure = OnFailure::kReboot;
  CorruptionPolicy on_corruption = CorruptionPolicy::kEio;
  // Development mode: recovery shell on verification failure, every
  // kernel command-line override honoured; warned about on every boot.
  bool insecure_dev_mode = false;

  bool operator==(const RootfsConfig&) const = default;
};

struct StateConfig {
  std::string
      device;  // "LABEL=x"/"PARTLABEL=x"/"PARTUUID=u" of the ext4 state partition; "" = tmpfs
  bool create = false;  // mkfs an empty partition on first boot (see partition_type)
  // GPT partition type GUID the state partition must carry ("" = not
  // checked). state.create needs it unless device is PARTUUID=.
  std::string partition_type;
  // Directories of the OS root whose changes persist on the state partition
  // (one overlay each, nosuid,nodev); everything else is volatile (tmpfs).
  std::vector<std::string> persistent = {"/var", "/home"};
  // Persistent directories mounted without noexec (e.g. /var for dpkg's
  // maintainer scripts); all others are noexec.
  std::vector<std::string> allow_exec;

  bool operator==(const StateConfig&) const = default;
};

struct SidecarConfig {
  bool enable = false;
  std::vector<std::string> listen = {"0.0.0.0:22"};
  std::vector<std::string> authorized_keys;
  SidecarStart start = SidecarStart::kBeforeHandover;

  bool operator==(const SidecarConfig&) const = default;
};

// [guest]: written only by a VM jail's supervisor into the guest's
// initramfs (jail/vm_guest.h); signed-only, never from the command line.
struct GuestConfig {
  std::string jail;    // the jail's name, reported in the READY line
  bool vsock = false;  // start the agent and report READY over vsock

  bool operator==(const GuestConfig&) const = default;
};

struct Config {
  InitConfig init;
  RootfsConfig rootfs;
  StateConfig state;
  SidecarConfig sidecar;
  GuestConfig guest;
  JailsConfig jails;  // [jails] and [[jail]] (format/jail_config.h)

  bool operator==(const Config&) const = default;
};

// One problem found while reading the config: enough to print a single line
// "FILE:LINE: KEY: what is wrong; how to fix it".
struct ConfigProblem {
  std::string file;
  int line = 0;     // 0 when unknown (e.g. kernel command line)
  std::string key;  // dotted, e.g. "init.on-exit"
  std::string message;
  // The key decides what runs or what is trusted (or the mode is not
  // implemented): PID 1 must not boot on defaults, it fails the boot.
  bool fatal = false;
  std::string str() const;
};

// Parses TOML text. Unknown keys and bad values are problems; parsing goes on
// past them so that one boot shows every mistake. `filename` only labels errors.
struct ParsedConfig {
  Config config;
  std::vector<ConfigProblem> problems;
};
ParsedConfig ParseConfig(std::string_view toml_text, std::string_view filename);

// True when the signed config turns development mode on
// (rootfs.insecure-dev-mode): every kernel command-line override except the
// signed-only keys applies, and a failed verification may open a shell.
bool DevelopmentMode(const Config& config);

// Applies one override `key=value` (dotted key without the "initos." prefix, as
// found on the kernel command line; list values comma-separated; bools
// true/false/1/0/yes/no; table entries as `init.env.NAME=value`).
// Outside development mode only keys listed in init.cmdline-overrides apply;
// keys that choose what runs or what is trusted never do, and signed-only
// keys (rootfs.keys, insecure-dev-mode, allow-shell, cmdline-overrides) not
// even in development mode; rootfs.min-version may only be raised.
Result<void> ApplyOverride(Config& config, std::string_view key, std::string_view value);

// Parse + kernel command-line overrides + signal defaults, in that order
// (so an override or a config entry always beats a default). Problems of
// both sources are concatenated; the config is usable (defaults where a
// value was bad) even when there are problems.
ParsedConfig LoadConfig(std::string_view toml_text, std::string_view filename,
                        std::string_view kernel_cmdline);

// What only PID 1 refuses in the [[jail]] entries, beyond ParseConfig's
// checks (format/jail_check.h): a directory rootfs is not verified, so it
// runs only in development mode (rootfs.insecure-dev-mode). A separate
// function rather than part of ParseConfig because the host tool `initos
// jail run` reads the same config and allows directories. All fatal.
std::vector<ConfigProblem> CheckJailsForBoot(const Config& config, std::string_view file);

// One entry of the key table, for docs and tests.
struct ConfigKeyInfo {
  std::string_view name;  // dotted, e.g. "init.on-exit"
  std::string_view type;  // "string", "bool", "integer", "string list", "table"
  // "listable" (only when named in init.cmdline-overrides, or in development
  // mode), "never" (development mode only), "signed only", "raise only".
  std::string_view cmdline;
  std::string_view doc;  // one line
};
std::vector<ConfigKeyInfo> ConfigKeys();

// Defaults for signals not set in the config (busybox/sysvinit conventions:
// SIGTERM reboot, SIGUSR1 halt, SIGUSR2 and SIGPWR poweroff, SIGINT (ctrl-alt-del)
// reboot, SIGHUP/SIGQUIT/SIGWINCH forwarded to the main program).
void FillSignalDefaults(InitConfig& init);

std::string_view OnExitName(OnExit v);
std::string_view SignalActionName(SignalAction v);
std::string_view InitModeName(InitMode v);
std::string_view OnFailureName(OnFailure v);
std::string_view CorruptionPolicyName(CorruptionPolicy v);
std::string_view SidecarStartName(SidecarStart v);

// "emerg".."debug" → syslog priority 0..7 (matches base/log.h Severity).
std::optional<int> LogLevelPriority(std::string_view name);

}  // namespace format
}  // namespace initos
