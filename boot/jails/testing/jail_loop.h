// Tests only (header-only): the jail supervisor on one supervision loop as
// PID 1's jail mode and `initos jail run` drive it, for root tests that
// start real jails and wait for what they do. One copy instead of one per
// test fixture.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "base/log.h"
#include "base/result.h"
#include "base/supervision.h"
#include "base/unique_fd.h"
#include "boot/jails/jail_mode.h"
#include "jail/supervisor.h"

namespace initos::testutil {

// The guest kernel for VM jails: $INITOS_QEMU_KERNEL, else Debian's cloud
// kernel in /boot (as the QEMU tests); its modules are found from its
// release.
inline std::string TestVmKernel() {
  if (const char* k = std::getenv("INITOS_QEMU_KERNEL"); k && *k) return k;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/boot", ec)) {
    std::string name = e.path().filename();
    if (name.starts_with("vmlinuz-") && name.ends_with("-cloud-amd64")) return e.path();
  }
  return "/boot/vmlinuz-6.1.0-57-cloud-amd64";
}

class JailLoop {
 public:
  // SIGCHLD is blocked and read through a signalfd while the loop exists.
  JailLoop() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &set, &old_mask_);
    sfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~JailLoop() {
    jails_.reset();
    loop_.reset();
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  JailLoop(const JailLoop&) = delete;
  JailLoop& operator=(const JailLoop&) = delete;

  // Prepares and starts every jail of config with the hooks jail mode uses,
  // except that this host has no cgroup2 (hybrid) and the guest's initos is
  // the initos binary, not this test process.
  Result<void> Start(const Config& config, const JailModeSetup& setup) {
    if (!sfd_.ok()) return Err() << "signalfd for SIGCHLD";
    loop_ = std::make_unique<Supervision>(sfd_.get(), /*reap_orphans=*/false);
    JailHooks hooks = JailHooksFor(config, setup);
    hooks.cgroup_parent.clear();
    hooks.guest_initos = INITOS_BINARY;
    jails_ = std::make_unique<JailSupervisor>(config.jails, *loop_, std::move(hooks));
    INITOS_TRY(jails_->Prepare());
    jails_->StartAll();
    return {};
  }

  JailSupervisor& jails() { return *jails_; }

  // Runs the loop until `done` holds (checked every 200 ms and after every
  // event) or `seconds` passed; returns done().
  bool RunUntil(const std::function<bool()>& done, double seconds) {
    constexpr Supervision::ChildId kTick = 1;
    const double until = MonotonicSeconds() + seconds;
    Supervision::Events ev;
    ev.exited = [&](Supervision::ChildId id, int status) {
      if (jails_->Owns(id)) jails_->OnExit(id, status);
      return done();
    };
    ev.deadline = [&](Supervision::ChildId id) {
      if (id == kTick) {
        if (done() || MonotonicSeconds() > until) return true;
        loop_->SetDeadline(kTick, MonotonicSeconds() + 0.2);
        return false;
      }
      if (jails_->Owns(id)) jails_->OnDeadline(id);
      return done();
    };
    ev.signal = [](const signalfd_siginfo&) { return false; };
    ev.orphan = [](pid_t, int) {};
    loop_->SetDeadline(kTick, MonotonicSeconds() + 0.2);
    if (!done()) (void)loop_->Run(ev);
    loop_->ClearDeadline(kTick);
    return done();
  }

 private:
  sigset_t old_mask_{};
  unique_fd sfd_;
  std::unique_ptr<Supervision> loop_;
  std::unique_ptr<JailSupervisor> jails_;
};

}  // namespace initos::testutil
