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

namespace initos {

// Where PID 1 reads the config (inside the signed initramfs).
inline constexpr std::string_view kDefaultConfigPath = "/etc/initos/initos.toml";

// What PID 1 does when the main program ends.
enum class OnExit { kPoweroff, kReboot, kRespawn, kShell, kHalt };

// What PID 1 does with a signal it receives.
enum class SignalAction { kForward, kPoweroff, kReboot, kHalt, kIgnore };

// How PID 1 hands the machine over once the root is ready.
enum class InitMode { kRun, kSwitchRoot, kJail };

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
  std::string log_level = "info";          // emerg..debug

  bool operator==(const InitConfig&) const = default;
};

struct RootfsConfig {
  std::string image;              // "PARTLABEL=x", "LABEL=x", "LABEL=x:/path/f.bundle"; "" = none
  std::vector<std::string> keys;  // trusted public keys (PEM paths in the initramfs)
  uint64_t min_version = 0;       // lowest version ever accepted
  OnFailure on_failure = OnFailure::kReboot;
  CorruptionPolicy on_corruption = CorruptionPolicy::kEio;
  bool insecure_dev_mode = false;  // allow the recovery shell on verification failure

  bool operator==(const RootfsConfig&) const = default;
};

struct StateConfig {
  std::string device;   // "LABEL=x"/"PARTLABEL=x" of the ext4 state partition; "" = tmpfs
  bool create = false;  // mkfs an all-zero PARTLABEL= partition on first boot

  bool operator==(const StateConfig&) const = default;
};

struct SidecarConfig {
  bool enable = false;
  std::vector<std::string> listen = {"0.0.0.0:22"};
  std::vector<std::string> authorized_keys;

  bool operator==(const SidecarConfig&) const = default;
};

struct Config {
  InitConfig init;
  RootfsConfig rootfs;
  StateConfig state;
  SidecarConfig sidecar;

  bool operator==(const Config&) const = default;
};

// One problem found while reading the config: enough to print a single line
// "FILE:LINE: KEY: what is wrong; how to fix it".
struct ConfigProblem {
  std::string file;
  int line = 0;     // 0 when unknown (e.g. kernel command line)
  std::string key;  // dotted, e.g. "init.on-exit"
  std::string message;
  std::string str() const;
};

// Parses TOML text. Unknown keys and bad values are problems; parsing goes on
// past them so that one boot shows every mistake. `filename` only labels errors.
struct ParsedConfig {
  Config config;
  std::vector<ConfigProblem> problems;
};
ParsedConfig ParseConfig(std::string_view toml_text, std::string_view filename);

// Applies one override `key=value` (dotted key without the "initos." prefix, as
// found on the kernel command line; list values comma-separated; bools
// true/false/1/0/yes/no; table entries as `init.env.NAME=value`). Refuses keys
// that would weaken verification (rootfs.keys, rootfs.insecure-dev-mode,
// init.allow-shell, lowering rootfs.min-version): those live only in the
// signed config.
Result<void> ApplyOverride(Config& config, std::string_view key, std::string_view value);

// Parse + kernel command-line overrides + signal defaults, in that order
// (so an override or a config entry always beats a default). Problems of
// both sources are concatenated; the config is usable (defaults where a
// value was bad) even when there are problems.
ParsedConfig LoadConfig(std::string_view toml_text, std::string_view filename,
                        std::string_view kernel_cmdline);

// One entry of the key table, for docs and tests.
struct ConfigKeyInfo {
  std::string_view name;     // dotted, e.g. "init.on-exit"
  std::string_view type;     // "string", "bool", "integer", "string list", "table"
  std::string_view cmdline;  // "yes", "no (signed config only)", "raise only"
  std::string_view doc;      // one line
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

// "TERM", "SIGTERM", "sigterm" → SIGTERM. Numbers are refused (they differ
// between architectures). [init.signals] additionally refuses KILL, STOP and
// CHLD, which PID 1 cannot or must not remap.
std::optional<int> SignalFromName(std::string_view name);
// SIGTERM → "SIGTERM"; unknown numbers → "signal N".
std::string SignalName(int signo);

// "emerg".."debug" → syslog priority 0..7 (matches base/log.h Severity).
std::optional<int> LogLevelPriority(std::string_view name);

}  // namespace initos
