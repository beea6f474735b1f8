// The jail supervisor: the policy for [[jail]] entries over the one
// supervision core (base/supervision.h) of whoever runs it (PID 1 in jail
// mode, `initos jail run` on a development host). It starts the jails in
// config order (a jail with start-after waits until that one runs), keeps
// each one's console pty and log, restarts them by their restart policy,
// stops them on request or in reverse order at shutdown, and runs `exec`
// sessions inside them. The loop's owner forwards the events of the slots
// Owns() says are the supervisor's.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/supervision.h"
#include "base/unique_fd.h"
#include "format/jail_config.h"
#include "jail/container.h"
#include "jail/log_ring.h"
#include "jail/vm.h"

namespace initos {
inline namespace jail {

struct JailHooks {
  // The jail's root as a host directory: a verified bundle mounted with its
  // own dm-verity device and overlay (PID 1), or the directory itself. An
  // unprivileged jail's maps come along: its image is shown idmapped.
  std::function<Result<std::string>(const JailConfig&, const IdRange& uids, const IdRange& gids)>
      prepare_rootfs;
  std::function<void(const JailConfig&)> release_rootfs;
  // kind = "vm": the jail's bundle located, opened read-only and verified in
  // full on the host (signature, manifest name, version floor, every
  // block) before QEMU starts; QEMU gets the fd as the guest's disk.
  std::function<Result<VmRootfs>(const JailConfig&)> prepare_vm_rootfs;
  // The initos binary a VM guest's initramfs runs as /init: "" = this very
  // binary (sealed, as the reaper); tests that are not initos name it.
  std::string guest_initos;
  // Rotated log files go to log_base/jails/logs: log_base is the state
  // partition's mount point ("" = memory only).
  std::string log_base;
  std::string cgroup_parent = "/sys/fs/cgroup/initos";
  // Called once when every jail has been running for
  // JailsConfig::mark_good_after_s (> 0) seconds: PID 1 marks the booted
  // A/B slot good.
  std::function<void()> healthy;
};

enum class JailState { kStopped, kWaiting, kRunning, kStopping, kBackoff, kFailed };
std::string_view JailStateName(JailState s);

class JailSupervisor {
 public:
  JailSupervisor(JailsConfig config, Supervision& loop, JailHooks hooks);
  ~JailSupervisor();

  // uid ranges, console ptys, the sealed reaper binary; before StartAll.
  Result<void> Prepare();
  void StartAll();
  // Stops every jail, last started first, each with its stop signal and
  // killed after its stop timeout; runs the loop itself until they ended.
  void StopAll();

  // Event forwarding from the loop's owner.
  bool Owns(Supervision::ChildId id) const;
  void OnExit(Supervision::ChildId id, int wait_status);
  void OnDeadline(Supervision::ChildId id);

  // Control (jail/control_server.h).
  std::string ListText() const;
  Result<std::string> StatusText(const std::string& name) const;
  Result<void> Start(const std::string& name);
  Result<void> Stop(const std::string& name);
  Result<void> Restart(const std::string& name);
  Result<std::string> LogText(const std::string& name) const;
  Result<void> WriteConsole(const std::string& name, std::string_view data);
  // Runs argv inside the jail with the given stdio; on_exit gets its wait status.
  Result<pid_t> Exec(const std::string& name, const std::vector<std::string>& argv, int in, int out,
                     int err, std::function<void(int)> on_exit);
  // Called with every chunk of every jail's console output (logs -f, console).
  using OutputListener = std::function<void(const std::string& name, std::string_view data)>;
  // Returns a handle for RemoveOutputListener.
  int AddOutputListener(OutputListener listener);
  void RemoveOutputListener(int handle);

  const JailsConfig& config() const { return config_; }
  bool Exists(const std::string& name) const;
  JailState State(const std::string& name) const;

  static constexpr Supervision::ChildId kFirstJailId = 1000;
  static constexpr Supervision::ChildId kFirstExecId = 100000;
  // The deadline of the mark-good check (not a child).
  static constexpr Supervision::ChildId kHealthCheckId = kFirstExecId - 1;

 private:
  struct Jail;
  Jail* Find(const std::string& name);
  const Jail* Find(const std::string& name) const;
  Jail* ById(Supervision::ChildId id);
  void StartJail(Jail& j);
  void StartVmJail(Jail& j);
  // Reaps a child of ours (an exec session, a VM's vsock poweroff request)
  // through the loop; on_exit (may be empty) gets its wait status.
  void WatchHelper(pid_t pid, std::function<void(int)> on_exit);
  void OnQmp(Jail& j);
  // The guests' READY reports (vsock, kVmReadyPort): one listener per
  // supervisor; a connection is kept only when its peer CID is a running
  // VM jail's, then its one line is read when it is readable.
  void ListenForReady();
  void OnReadyListener();
  void OnReadyConnection(int fd);
  void StartWaiting();
  // mark-good-after-s: arm the check for the latest start + the delay, or
  // report healthy when every jail has been running that long.
  void CheckHealthy();
  bool healthy_reported_ = false;
  void AfterEnd(Jail& j, int wait_status);
  Result<void> NewConsole(Jail& j);
  void OnConsole(Jail& j, short revents);

  JailsConfig config_;
  Supervision& loop_;
  JailHooks hooks_;
  std::vector<std::unique_ptr<Jail>> jails_;
  unique_fd sealed_self_;
  std::map<int, OutputListener> listeners_;
  int next_listener_ = 1;
  std::map<Supervision::ChildId, std::function<void(int)>> execs_;
  Supervision::ChildId next_exec_ = kFirstExecId;
  unique_fd ready_listener_;
  std::map<int, std::pair<uint32_t, unique_fd>> ready_conns_;  // fd -> {peer CID, fd}
};

}  // namespace jail
}  // namespace initos
