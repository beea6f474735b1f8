#include "sidecar/sidecar_cli.h"

#include <cstdio>

#include "base/options.h"
#include "sidecar/sidecar.h"

namespace initos {
inline namespace sidecar {

namespace {

// `initos sidecar launch --staging DIR [--state DIR]`: run by the runtime
// unit PID 1 leaves for sidecar.start = "after-os-init".
int LaunchMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--staging", "", true}, {"--state", "", true}});
  if (!a.ok() || !a->positional().empty()) {
    std::string what =
        a.ok() ? "unexpected argument '" + a->positional()[0] + "'" : a.error().str();
    std::fprintf(stderr, "initos sidecar launch: %s (see --help)\n", what.c_str());
    return 2;
  }
  if (a->help()) {
    std::printf(
        "usage: initos sidecar launch [--staging DIR] [--state DIR]\n"
        "\n"
        "Starts the SSH sidecar PID 1 prepared in DIR (default %s) for\n"
        "sidecar.start = \"after-os-init\": own mount namespace, a fresh tmpfs\n"
        "copy of DIR, the OS root at /sysroot, the state partition at\n"
        "/run/initos/state, then the supervisor. Run by %s.\n",
        kSidecarStagingDir, kSidecarUnitName);
    return 0;
  }
  std::string staging = a->One("--staging").value_or(kSidecarStagingDir);
  std::string state = a->One("--state").value_or("");
  auto r = LaunchPreparedSidecar(staging, state);
  std::fprintf(stderr, "initos sidecar launch: %s\n", r.error().str().c_str());
  return 1;
}

}  // namespace

int SidecarMain(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "launch")
    return LaunchMain(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    SidecarSupervisorOptions d;
    std::printf(
        "usage: initos sidecar [OPTIONS]\n"
        "       initos sidecar launch --help\n"
        "\n"
        "Supervises the SSH sidecar's sshd (foreground, restarted with backoff,\n"
        "stopped on SIGTERM). PID 1 starts it inside the sidecar's own root;\n"
        "running it by hand is for debugging.\n"
        "  --sshd PATH             sshd binary (%s)\n"
        "  --keygen PATH           ssh-keygen, makes a missing host key (%s)\n"
        "  --config PATH           sshd_config (%s)\n"
        "  --host-key PATH         ed25519 host key, created if missing (%s)\n"
        "  --log PATH              log file or /dev/kmsg (%s)\n"
        "  --min-backoff-ms N      first restart delay (%d)\n"
        "  --max-backoff-ms N      longest restart delay (%d)\n"
        "  --stop-timeout-ms N     SIGTERM to SIGKILL for sshd at stop (%d)\n",
        d.sshd.c_str(), d.keygen.c_str(), d.config.c_str(), d.host_key.c_str(), d.log_path.c_str(),
        d.min_backoff_ms, d.max_backoff_ms, d.stop_timeout_ms);
    return 0;
  }
  auto options = ParseSupervisorArgs(args);
  if (!options.ok()) {
    std::fprintf(stderr, "initos: %s\n", options.error().str().c_str());
    return 2;
  }
  return RunSidecarSupervisor(*options);
}

}  // namespace sidecar
}  // namespace initos
