#include "boot/shutdown.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/children.h"
#include "base/file.h"
#include "base/log.h"
#include "format/stage.h"
#include "os/mounts.h"

namespace initos {
inline namespace boot {
namespace {

void SignalAll(int sig, const ShutdownOptions& o) {
  if (o.kill_all) {
    // As PID 1, kill(-1) reaches every process but ourselves and kernel threads.
    if (::kill(-1, sig) != 0 && errno != ESRCH) {
      LOG(Error) << "shutdown: kill(-1, " << sig << "): " << std::strerror(errno);
    }
    return;
  }
  for (pid_t pid : Descendants(::getpid(), o.proc)) ::kill(pid, sig);
}

void UnmountAll(const ShutdownOptions& o) {
  auto text = ReadFileToString(o.proc + "/self/mountinfo");
  if (!text.ok()) {
    LOG(Warning) << "shutdown: cannot list mounts: " << text.error().str();
    return;
  }
  int unmounted = 0, read_only = 0, failed = 0;
  for (const std::string& mp : UnmountOrder(ParseMountInfo(*text))) {
    if (mp != "/" && ::umount2(mp.c_str(), 0) == 0) {
      ++unmounted;
      continue;
    }
    // Busy (or the root): at least make sure nothing more gets written to it.
    if (::mount(nullptr, mp.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0) {
      ++read_only;
    } else {
      ++failed;
    }
  }
  LOG(Info) << "shutdown: unmounted " << unmounted << ", remounted read-only " << read_only
            << ", left " << failed;
}

}  // namespace

int RebootCommand(ShutdownKind kind) {
  switch (kind) {
    case ShutdownKind::kPoweroff:
      return RB_POWER_OFF;
    case ShutdownKind::kReboot:
      return RB_AUTOBOOT;
    case ShutdownKind::kHalt:
      return RB_HALT_SYSTEM;
    case ShutdownKind::kKexec:
      return RB_KEXEC;
  }
  return RB_POWER_OFF;
}

void Shutdown(ShutdownKind kind, std::string_view reason, const ShutdownOptions& o) {
  LOG(Notice) << "shutdown: " << ShutdownKindName(kind) << " (" << reason
              << ") t=" << FormatSeconds(MonotonicSeconds());
  SignalAll(SIGTERM, o);
  SignalAll(SIGCONT, o);  // stopped processes must run to handle SIGTERM
  if (!ReapUntilGone(o.stop_timeout_ms)) {
    LOG(Warning) << "shutdown: processes still running after " << o.stop_timeout_ms
                 << " ms, sending SIGKILL";
    SignalAll(SIGKILL, o);
    // Processes stuck in uninterruptible sleep may never go: do not wait forever.
    if (!ReapUntilGone(3000)) LOG(Warning) << "shutdown: some processes did not die";
  }
  ::sync();
  if (o.unmount) UnmountAll(o);
  ::sync();
  if (!o.call_reboot) {
    LOG(Info) << "shutdown: " << ShutdownKindName(kind) << " now (reboot(2) skipped: not PID 1)";
    return;
  }
  LOG(Notice) << "shutdown: " << ShutdownKindName(kind) << " now";
  ::reboot(RebootCommand(kind));
  LOG(Emerg) << "shutdown: reboot(2) for " << ShutdownKindName(kind)
             << " failed: " << std::strerror(errno);
  if (kind != ShutdownKind::kHalt) ::reboot(RB_HALT_SYSTEM);
}

}  // namespace boot
}  // namespace initos
