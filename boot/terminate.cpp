#include "boot/terminate.h"

#include <fcntl.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <stdexcept>

#include "base/file.h"
#include "base/log.h"

namespace initos {
inline namespace boot {
namespace {

std::atomic<int> g_reboot_command{RB_AUTOBOOT};

void SyncAndReboot(int command) {
  ::sync();
  ::reboot(command);
  // reboot(2) failed (not the kernel's PID 1, no CAP_SYS_BOOT): exiting is
  // all that is left; as a container's PID 1 that ends the container.
  ::_exit(1);
}

std::atomic<TerminateRebootFn> g_reboot_fn{SyncAndReboot};
std::atomic<const char*> g_kmsg_path{"/dev/kmsg"};

[[noreturn]] void OnTerminate() {
  // Make sure the line reaches the kernel log even if it came before the
  // console stage (the queue would otherwise die with us).
  auto kmsg = OpenFile(g_kmsg_path.load(), O_WRONLY);
  if (kmsg.ok()) LogToKmsg(std::move(*kmsg));
  LOG(Emerg) << "fatal internal error (" << DescribeTerminate() << "); syncing and "
             << (g_reboot_command.load() == RB_POWER_OFF ? "powering off" : "rebooting");
  g_reboot_fn.load()(g_reboot_command.load());
  for (;;) ::pause();
}

}  // namespace

std::string DescribeTerminate() {
  std::exception_ptr e = std::current_exception();
  if (!e) return "std::terminate without an exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return std::string("std::terminate: ") + ex.what();
  } catch (...) {
    return "std::terminate: an exception of unknown type";
  }
}

void InstallPid1TerminateHandler(int reboot_command) {
  g_reboot_command = reboot_command;
  std::set_terminate(OnTerminate);
}

void SetTerminateHooksForTest(TerminateRebootFn fn, const char* kmsg_path) {
  g_reboot_fn = fn ? fn : SyncAndReboot;
  g_kmsg_path = kmsg_path ? kmsg_path : "/dev/kmsg";
}

}  // namespace boot
}  // namespace initos
