#include "jail/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "base/log.h"
#include "base/signals.h"
#include "jail/restart_policy.h"
#include "jail/uid_pool.h"
#include "jail/vm_channel_host.h"
#include "jail/vm_ready.h"

namespace initos {
inline namespace jail {

struct JailSupervisor::Jail {
  JailConfig config;
  Supervision::ChildId id = 0;
  JailState state = JailState::kStopped;
  IdRange uid_map, gid_map;
  unique_fd console_master, console_slave;
  std::optional<std::string> rootfs;  // prepared once, kept across restarts
  std::unique_ptr<ContainerSpec> spec;
  StartedContainer started;  // a VM jail: pid and cgroup only (its pidfd is in vm)
  // kind = "vm": the verified bundle (kept across restarts), the spec of
  // the running QEMU and its handles (QMP).
  std::optional<VmRootfs> vm_rootfs;
  std::unique_ptr<VmSpec> vm_spec;
  StartedVm vm;
  std::optional<VmReady> ready;  // the running guest's READY report (vsock)
  bool qmp_watched = false;
  bool quit_sent = false;    // a VM that ignored the powerdown got QMP quit
  bool guest_reset = false;  // QMP said the guest reset or panicked (QEMU still exits 0)
  bool stop_requested = false;
  bool kill_sent = false;
  bool restart_now = false;  // `initos jail restart`: start again once it ended
  std::vector<double> restarts;
  double started_at = 0;
  std::string last_exit;  // "exited with status 3; restarting in 200 ms"
  LogRing ring;
  LogFiles files;
  Jail(const JailConfig& c, const JailsConfig& all, const std::string& log_base)
      : config(c),
        ring(all.log_ring_bytes),
        files(log_base, "jails/logs", c.name, all.log_file_bytes, all.log_files) {}
};

std::string_view JailStateName(JailState s) {
  switch (s) {
    case JailState::kStopped:
      return "stopped";
    case JailState::kWaiting:
      return "waiting";
    case JailState::kRunning:
      return "running";
    case JailState::kStopping:
      return "stopping";
    case JailState::kBackoff:
      return "restarting";
    case JailState::kFailed:
      return "failed";
  }
  return "?";
}

namespace {

// A pty pair: the jail's console. The supervisor keeps both ends for the
// life of the jail, so a jail that closes its console (or a restart) never
// leaves the master reading EIO in a loop.
Result<std::pair<unique_fd, unique_fd>> OpenConsolePty(const IdRange& owner) {
  unique_fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (!master.ok()) return ErrnoError() << "posix_openpt";
  if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
    return ErrnoError() << "unlockpt";
  char name[64];
  if (::ptsname_r(master.get(), name, sizeof(name)) != 0) return ErrnoError() << "ptsname";
  unique_fd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.ok()) return ErrnoError() << "open " << name;
  // The jail's root (the mapped uid) owns its console, as on a real tty.
  if (owner.count > 0 && ::fchown(slave.get(), owner.host, owner.host) != 0)
    return ErrnoError() << "chown " << name;
  return std::make_pair(std::move(master), std::move(slave));
}

Error NoSuchJail(const std::string& name) {
  return Err() << "no jail named \"" << name << "\"; see `initos jail list`";
}

}  // namespace

JailSupervisor::JailSupervisor(JailsConfig config, Supervision& loop, JailHooks hooks)
    : config_(std::move(config)), loop_(loop), hooks_(std::move(hooks)) {
  for (size_t i = 0; i < config_.jails.size(); ++i) {
    jails_.push_back(std::make_unique<Jail>(config_.jails[i], config_, hooks_.log_base));
    jails_.back()->id = kFirstJailId + static_cast<int>(i);
  }
}

JailSupervisor::~JailSupervisor() {
  for (auto& j : jails_) {
    if (j->console_master.ok()) loop_.UnwatchFd(j->console_master.get());
    if (j->qmp_watched) loop_.UnwatchFd(j->vm.qmp->fd());
  }
  if (ready_listener_.ok()) loop_.UnwatchFd(ready_listener_.get());
  for (const auto& [fd, conn] : ready_conns_) loop_.UnwatchFd(fd);
}

Result<void> JailSupervisor::Prepare() {
  auto ranges = AllocateUidRanges(config_);
  if (!ranges.ok()) return Err() << "jails: " << ranges.error().str();
  for (size_t i = 0; i < jails_.size(); ++i) {
    Jail& j = *jails_[i];
    j.uid_map = (*ranges)[i];
    j.gid_map = j.config.gid_map.value_or(j.uid_map);
  }
  // A VM jail's guest initramfs runs this very binary as its /init.
  bool any_reaper = std::any_of(jails_.begin(), jails_.end(), [this](const auto& j) {
    return j->config.reaper || (j->config.kind == JailKind::kVm && hooks_.guest_initos.empty());
  });
  if (any_reaper) {
    auto self = SealedSelf();
    if (!self.ok())
      return Err() << "jails: sealed copy of initos for reapers: " << self.error().str();
    sealed_self_ = std::move(*self);
  }
  ListenForReady();
  return {};
}

void JailSupervisor::ListenForReady() {
  bool any_vsock = std::any_of(jails_.begin(), jails_.end(), [](const auto& j) {
    return j->config.kind == JailKind::kVm && j->config.vm.vsock;
  });
  if (!any_vsock || ready_listener_.ok()) return;
  auto l = ListenReady(kVmReadyPort);
  if (!l.ok()) {
    // The VMs still run; only their readiness goes unseen.
    LOG(Warning) << "jails: no READY listener on vsock port " << kVmReadyPort << ": "
                 << l.error().str() << "; VM jails run without readiness reports";
    return;
  }
  ready_listener_ = std::move(*l);
  loop_.WatchFd(ready_listener_.get(), POLLIN, [this](short) {
    OnReadyListener();
    return false;
  });
}

void JailSupervisor::OnReadyListener() {
  for (;;) {
    auto c = AcceptVsock(ready_listener_.get());
    if (!c.ok()) {
      LOG(Warning) << "jails: READY listener: " << c.error().str();
      return;
    }
    if (!c->has_value()) return;
    VsockConnection& conn = **c;
    std::vector<VmPeer> running;
    for (const auto& j : jails_)
      if (j->config.kind == JailKind::kVm && j->state == JailState::kRunning)
        running.push_back({j->config.name, j->vm.cid});
    if (auto m = MatchVmPeer(running, conn.cid); !m.ok()) {
      LOG(Warning) << m.error().str();
      continue;
    }
    // One pending connection per guest: a guest that keeps connecting
    // without writing cannot pile up fds in the supervisor.
    for (auto it = ready_conns_.begin(); it != ready_conns_.end();) {
      if (it->second.first != conn.cid) {
        ++it;
        continue;
      }
      loop_.UnwatchFd(it->first);
      it = ready_conns_.erase(it);
    }
    // Its line is read when it is there: the loop never waits for a guest.
    int fd = conn.fd.get();
    ready_conns_[fd] = {conn.cid, std::move(conn.fd)};
    loop_.WatchFd(fd, POLLIN, [this, fd](short) {
      OnReadyConnection(fd);
      return false;
    });
  }
}

void JailSupervisor::OnReadyConnection(int fd) {
  auto it = ready_conns_.find(fd);
  if (it == ready_conns_.end()) return;
  uint32_t cid = it->second.first;
  unique_fd conn = std::move(it->second.second);
  ready_conns_.erase(it);
  loop_.UnwatchFd(fd);
  // Readable: the line is (nearly always) whole; a guest that trickles it
  // holds the loop for at most this long.
  auto r = ReadReadyLine(conn.get(), 100);
  if (!r.ok()) {
    LOG(Warning) << "jails: READY from guest CID " << cid << ": " << r.error().str();
    return;
  }
  for (auto& j : jails_) {
    if (j->config.kind != JailKind::kVm || j->state != JailState::kRunning || j->vm.cid != cid)
      continue;
    j->ready = *r;
    LOG(Info) << VmReadyLogLine(j->config.name, *r);
    return;
  }
  LOG(Warning) << "jails: READY from guest CID " << cid << ", whose jail is no longer running";
}

// A new pty for every start: when a jail's session leader exits the kernel
// hangs its console up, and every fd of that slave (ours included) stays
// dead, so a restarted jail could never write to it again.
Result<void> JailSupervisor::NewConsole(Jail& j) {
  if (j.console_master.ok()) loop_.UnwatchFd(j.console_master.get());
  auto pty = OpenConsolePty(j.config.kind == JailKind::kUnprivileged ? j.uid_map : IdRange{});
  if (!pty.ok()) return Err() << "console: " << pty.error().str();
  j.console_master = std::move(pty->first);
  j.console_slave = std::move(pty->second);
  loop_.WatchFd(j.console_master.get(), POLLIN, [this, &j](short revents) {
    OnConsole(j, revents);
    return false;
  });
  return {};
}

void JailSupervisor::OnConsole(Jail& j, short revents) {
  if (!(revents & (POLLIN | POLLHUP | POLLERR))) return;
  char buf[4096];
  for (int rounds = 0; rounds < 16; ++rounds) {  // bounded: other jails get their turn
    ssize_t n = ::read(j.console_master.get(), buf, sizeof(buf));
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      // Hung up (the jail ended): stop polling it, or POLLHUP would spin
      // the loop; the next start opens a new one.
      loop_.UnwatchFd(j.console_master.get());
      return;
    }
    std::string_view data(buf, static_cast<size_t>(n));
    j.ring.Append(data);
    j.files.Append(data);
    for (const auto& [handle, listener] : listeners_) listener(j.config.name, data);
  }
}

JailSupervisor::Jail* JailSupervisor::Find(const std::string& name) {
  for (auto& j : jails_)
    if (j->config.name == name) return j.get();
  return nullptr;
}

const JailSupervisor::Jail* JailSupervisor::Find(const std::string& name) const {
  for (const auto& j : jails_)
    if (j->config.name == name) return j.get();
  return nullptr;
}

JailSupervisor::Jail* JailSupervisor::ById(Supervision::ChildId id) {
  for (auto& j : jails_)
    if (j->id == id) return j.get();
  return nullptr;
}

int JailSupervisor::AddOutputListener(OutputListener listener) {
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void JailSupervisor::RemoveOutputListener(int handle) {
  listeners_.erase(handle);
}

bool JailSupervisor::Exists(const std::string& name) const {
  return Find(name) != nullptr;
}

JailState JailSupervisor::State(const std::string& name) const {
  const Jail* j = Find(name);
  return j ? j->state : JailState::kStopped;
}

void JailSupervisor::StartAll() {
  for (auto& j : jails_) j->state = JailState::kWaiting;
  StartWaiting();
}

// Starts every waiting jail whose start-after jail runs; repeats until no
// more can start (a chain a → b → c starts in one call).
void JailSupervisor::StartWaiting() {
  for (bool progress = true; progress;) {
    progress = false;
    for (auto& j : jails_) {
      if (j->state != JailState::kWaiting) continue;
      if (!j->config.start_after.empty()) {
        const Jail* dep = Find(j->config.start_after);
        if (dep && dep->state != JailState::kRunning) continue;
      }
      StartJail(*j);
      progress = progress || j->state == JailState::kRunning;
    }
  }
}

void JailSupervisor::StartJail(Jail& j) {
  const std::string& name = j.config.name;
  j.stop_requested = false;
  j.kill_sent = false;
  j.quit_sent = false;
  j.guest_reset = false;
  if (j.config.kind == JailKind::kVm) return StartVmJail(j);
  if (!j.rootfs) {
    auto root = hooks_.prepare_rootfs ? hooks_.prepare_rootfs(j.config, j.uid_map, j.gid_map)
                                      : Result<std::string>(j.config.rootfs);
    if (!root.ok()) {
      // A rootfs that fails verification stays refused: restarting cannot fix it.
      LOG(Error) << "jail " << name << ": " << root.error().str() << "; not started";
      j.state = JailState::kFailed;
      j.last_exit = root.error().str();
      return;
    }
    j.rootfs = *root;
  }
  if (auto c = NewConsole(j); !c.ok()) {
    LOG(Error) << "jail " << name << ": " << c.error().str();
    AfterEnd(j, 127 << 8);
    return;
  }
  j.spec = std::make_unique<ContainerSpec>();
  j.spec->config = j.config;
  j.spec->rootfs = *j.rootfs;
  j.spec->uid_map = j.uid_map;
  j.spec->gid_map = j.gid_map;
  j.spec->cgroup_parent = hooks_.cgroup_parent;
  j.spec->console_fd = j.console_slave.get();
  j.spec->reaper_exec_fd = sealed_self_.get();
  auto started = StartContainer(*j.spec);
  if (!started.ok()) {
    LOG(Error) << "jail " << name << ": " << started.error().str();
    AfterEnd(j, 127 << 8);
    return;
  }
  j.started = std::move(*started);
  auto w = loop_.Watch(j.id, j.started.pid);
  if (!w.ok()) LOG(Warning) << "jail " << name << ": " << w.error().str();
  j.state = JailState::kRunning;
  j.started_at = MonotonicSeconds();
  CheckHealthy();
  LOG(Info) << "jail " << name << " started (" << JailKindName(j.config.kind) << ", pid "
            << j.started.pid << ")";
}

void JailSupervisor::StartVmJail(Jail& j) {
  const std::string& name = j.config.name;
  if (!j.vm_rootfs) {
    auto root = hooks_.prepare_vm_rootfs
                    ? hooks_.prepare_vm_rootfs(j.config)
                    : Result<VmRootfs>(Err() << "no verifier for VM bundles (prepare_vm_rootfs)");
    if (!root.ok()) {
      // A bundle that fails verification stays refused: restarting cannot fix it.
      LOG(Error) << "jail " << name << ": " << root.error().str() << "; not started";
      j.state = JailState::kFailed;
      j.last_exit = root.error().str();
      return;
    }
    j.vm_rootfs = *root;
  }
  if (auto c = NewConsole(j); !c.ok()) {
    LOG(Error) << "jail " << name << ": " << c.error().str();
    AfterEnd(j, 127 << 8);
    return;
  }
  j.vm_spec = std::make_unique<VmSpec>();
  j.vm_spec->config = j.config;
  j.vm_spec->rootfs = *j.vm_rootfs;
  j.vm_spec->host_id = j.uid_map.host;
  j.vm_spec->cgroup_parent = hooks_.cgroup_parent;
  j.vm_spec->console_fd = j.console_slave.get();
  if (!hooks_.guest_initos.empty())
    j.vm_spec->initos_binary = hooks_.guest_initos;
  else if (sealed_self_.ok())
    j.vm_spec->initos_binary = "/proc/self/fd/" + std::to_string(sealed_self_.get());
  auto started = StartVm(*j.vm_spec);
  if (!started.ok()) {
    OnConsole(j, POLLIN);  // QEMU's own words on why it did not start
    LOG(Error) << started.error().str();
    AfterEnd(j, 127 << 8);
    // `initos jail status` says why, not only "exited with status 127".
    j.last_exit = started.error().str() + " (" + j.last_exit + ")";
    return;
  }
  j.vm = std::move(*started);
  j.ready.reset();
  j.started.pid = j.vm.pid;
  j.started.cgroup = j.vm.cgroup;
  auto w = loop_.Watch(j.id, j.vm.pid);
  if (!w.ok()) LOG(Warning) << "jail " << name << ": " << w.error().str();
  loop_.WatchFd(j.vm.qmp->fd(), POLLIN, [this, &j](short) {
    OnQmp(j);
    return false;
  });
  j.qmp_watched = true;
  j.state = JailState::kRunning;
  j.started_at = MonotonicSeconds();
  CheckHealthy();
  LOG(Info) << "jail " << name << " started (vm, QEMU pid " << j.vm.pid << ")";
}

// QEMU's events: logged (SHUTDOWN, GUEST_PANICKED, ...); the socket closing
// means QEMU is going away, which its exit reports.
void JailSupervisor::OnQmp(Jail& j) {
  auto events = j.vm.qmp->DrainEvents();
  if (!events.ok()) {
    loop_.UnwatchFd(j.vm.qmp->fd());
    j.qmp_watched = false;
    return;
  }
  for (const QmpMessage& e : *events) {
    LOG(Info) << "jail " << j.config.name << ": QEMU event " << e.event
              << (e.data.empty() ? "" : " " + e.data);
    j.guest_reset = j.guest_reset || QmpGuestResetOrPanic(e);
  }
}

bool JailSupervisor::Owns(Supervision::ChildId id) const {
  return id >= kFirstJailId;
}

void JailSupervisor::OnExit(Supervision::ChildId id, int status) {
  auto e = execs_.find(id);
  if (e != execs_.end()) {
    auto done = std::move(e->second);
    execs_.erase(e);
    if (done) done(status);
    return;
  }
  Jail* j = ById(id);
  if (!j) return;
  loop_.ClearDeadline(id);
  // Its last words may still sit in the console: take them before a
  // caller (jail run --once, shutdown) stops reading.
  if (j->console_master.ok()) OnConsole(*j, POLLIN);
  if (j->config.kind == JailKind::kVm) {
    // QEMU's last events are still in the socket: a guest that rebooted or
    // panicked (its PID 1 died) made QEMU exit 0 under -no-reboot, but it
    // did not power off: that is a failure for the restart policy.
    if (j->qmp_watched) OnQmp(*j);
    if (j->guest_reset && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !j->stop_requested) {
      LOG(Warning) << "jail " << j->config.name
                   << ": the guest rebooted or panicked instead of powering off";
      status = 1 << 8;
    }
    if (j->qmp_watched) loop_.UnwatchFd(j->vm.qmp->fd());
    j->qmp_watched = false;
    if (j->vm_spec) CleanUpVm(*j->vm_spec, j->vm);
    j->vm = StartedVm{};
    j->ready.reset();
  } else {
    CleanUpContainer(*j->spec, j->started);
  }
  j->started = StartedContainer{};
  AfterEnd(*j, status);
}

void JailSupervisor::AfterEnd(Jail& j, int status) {
  if (j.restart_now) {
    j.restart_now = false;
    j.restarts.clear();
    LOG(Info) << "jail " << j.config.name << " " << DescribeWaitStatus(status) << "; restarting";
    j.state = JailState::kWaiting;
    StartWaiting();
    return;
  }
  double now = MonotonicSeconds();
  RestartDecision d = DecideJailRestart(j.config, status, j.restarts, now, j.stop_requested);
  j.last_exit = d.reason;
  if (d.restart || j.stop_requested)
    LOG(Info) << "jail " << j.config.name << " " << d.reason;
  else
    LOG(Warning) << "jail " << j.config.name << " " << d.reason;
  if (!d.restart) {
    j.state = j.stop_requested || (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                  ? JailState::kStopped
                  : JailState::kFailed;
    return;
  }
  j.restarts.push_back(now);
  j.state = JailState::kBackoff;
  loop_.SetDeadline(j.id, now + d.delay_ms / 1000.0);
}

void JailSupervisor::CheckHealthy() {
  if (healthy_reported_ || config_.mark_good_after_s <= 0 || !hooks_.healthy || jails_.empty())
    return;
  double latest = 0;
  for (const auto& j : jails_) {
    if (j->state != JailState::kRunning) return;  // re-checked when it starts
    latest = std::max(latest, j->started_at);
  }
  double due = latest + config_.mark_good_after_s;
  if (MonotonicSeconds() < due) {
    loop_.SetDeadline(kHealthCheckId, due);
    return;
  }
  healthy_reported_ = true;
  LOG(Info) << "jails: all " << jails_.size() << " jail(s) ran " << config_.mark_good_after_s
            << " s: this boot is healthy";
  hooks_.healthy();
}

void JailSupervisor::OnDeadline(Supervision::ChildId id) {
  if (id == kHealthCheckId) return CheckHealthy();
  Jail* j = ById(id);
  if (!j) return;
  if (j->state == JailState::kBackoff) {
    j->state = JailState::kWaiting;
    StartWaiting();
  } else if (j->state == JailState::kStopping && j->config.kind == JailKind::kVm && !j->quit_sent &&
             j->vm.qmp) {
    // The guest ignored the power button: QEMU quits (its disks flushed)
    // on QMP's order; SIGKILL follows if even that does not end it.
    LOG(Warning) << "jail " << j->config.name << " did not power down within "
                 << j->config.stop_timeout_ms << " ms; telling QEMU to quit";
    j->quit_sent = true;
    if (auto q = j->vm.qmp->Quit(std::chrono::milliseconds(0)); !q.ok())
      LOG(Warning) << "jail " << j->config.name << ": " << q.error().str();
    loop_.SetDeadline(id, MonotonicSeconds() + 2);
  } else if (j->state == JailState::kStopping && !j->kill_sent) {
    LOG(Warning) << "jail " << j->config.name << " did not stop within "
                 << j->config.stop_timeout_ms << " ms of " << SignalName(j->config.stop_signal)
                 << "; killing it";
    j->kill_sent = true;
    loop_.Signal(id, SIGKILL);  // PID 1 of its pid namespace: the kernel kills the rest
  }
}

Result<void> JailSupervisor::Stop(const std::string& name) {
  Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  if (j->state == JailState::kBackoff || j->state == JailState::kWaiting) {
    loop_.ClearDeadline(j->id);
    j->state = JailState::kStopped;
    return {};
  }
  if (j->state != JailState::kRunning) return {};
  j->stop_requested = true;
  j->state = JailState::kStopping;
  if (j->config.kind == JailKind::kVm) {
    // ACPI power button: a guest that listens shuts down and QEMU exits 0.
    // With vsock the guest's agent is asked too (a child, so a stuck guest
    // never stalls this loop): an OS without ACPI handling still powers off.
    LOG(Info) << "jail " << name << ": stopping with an ACPI powerdown (QMP)"
              << (j->vm.cid ? " and a poweroff request over vsock" : "");
    if (j->vm.cid) {
      auto helper = SpawnGuestPoweroff(j->vm.cid, j->config.stop_timeout_ms);
      if (helper.ok())
        WatchHelper(*helper, nullptr);
      else
        LOG(Warning) << "jail " << name << ": vsock poweroff: " << helper.error().str();
    }
    if (auto p = RequestVmPowerdown(j->vm); !p.ok()) {
      LOG(Warning) << "jail " << name << ": " << p.error().str() << "; sending SIGTERM to QEMU";
      if (!loop_.Signal(j->id, SIGTERM)) loop_.Signal(j->id, SIGKILL);
    }
  } else {
    LOG(Info) << "jail " << name << ": stopping with " << SignalName(j->config.stop_signal);
    if (!loop_.Signal(j->id, j->config.stop_signal)) loop_.Signal(j->id, SIGKILL);
  }
  loop_.SetDeadline(j->id, MonotonicSeconds() + j->config.stop_timeout_ms / 1000.0);
  return {};
}

Result<void> JailSupervisor::Start(const std::string& name) {
  Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  if (j->state == JailState::kRunning || j->state == JailState::kStopping)
    return Err() << "jail " << name << " is " << JailStateName(j->state)
                 << "; use `initos jail restart " << name << "`";
  loop_.ClearDeadline(j->id);
  j->restarts.clear();  // an admin's start resets the restart limit
  j->state = JailState::kWaiting;
  StartWaiting();
  if (j->state == JailState::kWaiting)
    return Err() << "jail " << name << " waits for " << j->config.start_after
                 << " (start-after) to run";
  if (j->state != JailState::kRunning)
    return Err() << "jail " << name << " did not start: " << j->last_exit;
  return {};
}

Result<void> JailSupervisor::Restart(const std::string& name) {
  Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  if (j->state != JailState::kRunning) return Start(name);
  // Stop, and once it ended start it again: AfterEnd sees a stop request,
  // so the restart comes from here, not from the policy.
  INITOS_TRY(Stop(name));
  j->restart_now = true;
  return {};
}

void JailSupervisor::StopAll() {
  // Last started first (reverse config order), one at a time.
  for (auto it = jails_.rbegin(); it != jails_.rend(); ++it) {
    Jail& j = **it;
    if (j.state == JailState::kBackoff || j.state == JailState::kWaiting) {
      loop_.ClearDeadline(j.id);
      j.state = JailState::kStopped;
    }
    if (j.state != JailState::kRunning && j.state != JailState::kStopping) continue;
    if (j.state == JailState::kRunning) (void)Stop(j.config.name);
    j.stop_requested = true;
    j.restart_now = false;
    Supervision::Events ev;
    ev.exited = [&](Supervision::ChildId id, int status) {
      OnExit(id, status);
      return id == j.id;
    };
    ev.deadline = [&](Supervision::ChildId id) {
      if (id != j.id) return false;
      if (j.kill_sent) return true;  // not even SIGKILL helped (D state): give up on it
      OnDeadline(id);
      loop_.SetDeadline(j.id, MonotonicSeconds() + 5);
      return false;
    };
    ev.signal = [](const signalfd_siginfo&) { return false; };
    ev.orphan = [](pid_t, int) {};
    (void)loop_.Run(ev);
  }
}

std::string JailSupervisor::ListText() const {
  std::ostringstream out;
  out << "NAME             KIND          STATE         PID     RESTARTS\n";
  for (const auto& j : jails_) {
    char line[160];
    // A VM jail whose guest reported READY: "running+ready".
    std::string state(JailStateName(j->state));
    if (j->state == JailState::kRunning && j->ready) state += "+ready";
    std::snprintf(line, sizeof(line), "%-16s %-13s %-13s %-7d %zu\n", j->config.name.c_str(),
                  std::string(JailKindName(j->config.kind)).c_str(), state.c_str(),
                  j->state == JailState::kRunning || j->state == JailState::kStopping
                      ? static_cast<int>(j->started.pid)
                      : 0,
                  j->restarts.size());
    out << line;
  }
  return out.str();
}

Result<std::string> JailSupervisor::StatusText(const std::string& name) const {
  const Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  std::ostringstream out;
  out << "name: " << name << "\n"
      << "kind: " << JailKindName(j->config.kind) << "\n"
      << "state: " << JailStateName(j->state) << "\n";
  if (j->state == JailState::kRunning || j->state == JailState::kStopping) {
    out << "pid: " << j->started.pid << "\n"
        << "cgroup: " << j->started.cgroup << "\n"
        << "uptime: " << static_cast<long>(MonotonicSeconds() - j->started_at) << " s\n";
  }
  if (j->config.kind == JailKind::kUnprivileged)
    out << "uid-map: 0 " << j->uid_map.host << " " << j->uid_map.count << "\n";
  if (j->config.kind == JailKind::kVm) {
    out << "qemu-uid: " << j->uid_map.host << "\n";
    if (j->state == JailState::kRunning || j->state == JailState::kStopping)
      out << "accel: " << j->vm.accel << "\n"
          << "vsock: " << (j->vm.cid ? "cid " + std::to_string(j->vm.cid) : std::string("no"))
          << "\n";
    if (j->state == JailState::kRunning && j->vm.cid) out << VmReadyStatusLine(j->ready) << "\n";
  }
  out << "rootfs: " << j->config.rootfs << "\n"
      << "restarts: " << j->restarts.size() << "\n";
  if (!j->last_exit.empty()) out << "last: " << j->last_exit << "\n";
  return out.str();
}

Result<std::string> JailSupervisor::LogText(const std::string& name) const {
  const Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  return j->ring.Contents();
}

Result<void> JailSupervisor::WriteConsole(const std::string& name, std::string_view data) {
  Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  if (!j->console_master.ok()) return Err() << "jail " << name << " has no console yet";
  if (::write(j->console_master.get(), data.data(), data.size()) < 0 && errno != EAGAIN)
    return ErrnoError() << "jail " << name << " console";
  return {};
}

Result<pid_t> JailSupervisor::Exec(const std::string& name, const std::vector<std::string>& argv,
                                   int in, int out, int err, std::function<void(int)> on_exit) {
  Jail* j = Find(name);
  if (!j) return NoSuchJail(name);
  if (j->state != JailState::kRunning)
    return Err() << "jail " << name << " is " << JailStateName(j->state)
                 << "; start it first (initos jail start " << name << ")";
  if (j->config.kind == JailKind::kVm) {
    // Into the guest through its agent (vsock): a relay child whose exit
    // status is the guest command's.
    if (!j->vm.cid)
      return Err() << "jail " << name
                   << " has no vsock channel (vsock = false): exec needs the guest's agent; use "
                      "`initos jail console "
                   << name << "`";
    auto pid = SpawnGuestExec(j->vm.cid, argv, in, out, err);
    if (!pid.ok()) return Err() << "jail " << name << ": exec: " << pid.error().str();
    WatchHelper(*pid, std::move(on_exit));
    return *pid;
  }
  ExecSpec spec;
  spec.container = j->spec.get();
  spec.jail_pidfd = j->started.pidfd.get();
  spec.argv = argv;
  spec.stdin_fd = in;
  spec.stdout_fd = out;
  spec.stderr_fd = err;
  auto pid = ExecInContainer(spec);
  if (!pid.ok()) return Err() << "jail " << name << ": exec: " << pid.error().str();
  WatchHelper(*pid, std::move(on_exit));
  return *pid;
}

void JailSupervisor::WatchHelper(pid_t pid, std::function<void(int)> on_exit) {
  Supervision::ChildId id = next_exec_++;
  execs_[id] = std::move(on_exit);
  auto w = loop_.Watch(id, pid);
  if (!w.ok()) LOG(Warning) << "jail helper " << pid << ": " << w.error().str();
}

}  // namespace jail
}  // namespace initos
