#include "boot/handover/handover.h"

#include "base/file.h"
#include "base/log.h"
#include "boot/guest/guest_boot.h"
#include "boot/guest/guest_power_key.h"
#include "sidecar/sidecar.h"

namespace initos {
inline namespace boot {
namespace {

// The sidecar's files must be copied before the initramfs is deleted, and
// it must see the OS root, so it starts (or is prepared) here and nowhere
// else.
void StartSidecarIfEnabled(const Config& config, const HandoverOptions& o) {
  if (!config.sidecar.enable) return;
  auto spec = SidecarSpecForBoot(config.sidecar, o.root, o.state_dir);
  if (!spec.ok()) {
    LOG(Error) << spec.error().str() << "; continuing without the SSH sidecar";
    return;
  }
  if (config.sidecar.start == SidecarStart::kAfterOsInit) {
    // The same files, prepared now; systemd starts it from a runtime unit.
    // The state partition's path as the OS sees it (PID 1's, minus root).
    std::string state = o.state_dir;
    if (o.root != "/" && !o.root.empty() && state.rfind(o.root + "/", 0) == 0)
      state = state.substr(o.root.size());
    auto r = PrepareSidecarForOs(*spec, PathUnderRoot(o.root, kSidecarStagingDir),
                                 PathUnderRoot(o.root, "/run"), kSidecarStagingDir, state);
    if (!r.ok()) {
      LOG(Error) << r.error().str() << "; continuing without the SSH sidecar";
      return;
    }
    LOG(Info) << "sidecar: prepared in " << kSidecarStagingDir << "; the OS starts it with "
              << kSidecarUnitName << " (sidecar.start = after-os-init)";
    return;
  }
  spec->work_dir = PathUnderRoot(o.root, "/run/initos/sidecar");
  spec->os_root = PathUnderRoot(o.root, o.new_root);
  auto pid = StartSidecar(*spec);
  if (!pid.ok()) {
    LOG(Error) << pid.error().str() << "; continuing without the SSH sidecar";
    return;
  }
  LOG(Info) << "sidecar: started (pid " << *pid << "), listening on "
            << (config.sidecar.listen.empty() ? "nothing" : config.sidecar.listen[0]);
}

}  // namespace

Result<void> SwitchRootToOs(const Config& config, const HandoverOptions& o,
                            const SwitchRootHooks& hooks) {
  // init.os-argv (a VM jail's chain): its argv[0] is checked like os-init.
  const std::vector<std::string>& os_argv = config.init.os_argv;
  auto init = FindOsInit(PathUnderRoot(o.root, o.new_root),
                         os_argv.empty() ? config.init.os_init : os_argv[0]);
  if (!init.ok() && !os_argv.empty())
    return Err() << "switch-root: init.os-argv[0] " << os_argv[0]
                 << " is not an executable file in the verified root " << o.new_root
                 << "; fix the jail's command or the image";
  if (!init.ok()) return init.error();
  auto mountinfo = ReadFileToString(PathUnderRoot(o.root, "/proc/self/mountinfo"));
  if (!mountinfo.ok()) return Wrap(mountinfo.error(), "switch-root");
  SwitchRootInput in;
  in.new_root = o.new_root;
  in.mountinfo = MountInfoBelow(*mountinfo, o.root);
  in.init = *init;
  in.argv = os_argv;
  // Plan before starting anything, so a bad layout fails without side effects.
  auto plan = PlanSwitchRoot(in);
  if (!plan.ok()) return plan.error();
  StartSidecarIfEnabled(config, o);
  // A VM jail's guest: the agent must outlive the handover like the sidecar.
  StartGuestAgentIfEnabled(config, o.root);
  // ... and so must the power button watcher (QMP system_powerdown).
  StartGuestPowerKeyIfGuest(config, o.root);
  return ExecuteSwitchRoot(o.root, *plan, hooks);
}

}  // namespace boot
}  // namespace initos
