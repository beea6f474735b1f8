// The last line of defence for every process that runs as PID 1 (the init
// sequence, the initramfs shutdown program systemd execs, a container's
// reaper): an exception that escapes, or any other std::terminate, must not
// end PID 1 (the kernel would panic with a trace nobody reads). The handler
// logs one line naming the exception, syncs and reboots.
#pragma once

#include <string>

namespace initos {
inline namespace boot {

// Installs the handler (std::set_terminate). reboot_command is the
// reboot(2) command used after logging: RB_AUTOBOOT by default; the
// initramfs shutdown program passes the verb it was asked for, so a
// poweroff does not turn into a reboot loop.
void InstallPid1TerminateHandler(int reboot_command);

// What the handler logs for the exception being handled (pure enough to
// test): "std::terminate: <what()>" or "std::terminate without an exception".
std::string DescribeTerminate();

// Tests replace sync+reboot(2) (fn must not return) and the kernel log
// path to observe the handler; nullptr restores the real ones.
using TerminateRebootFn = void (*)(int reboot_command);
void SetTerminateHooksForTest(TerminateRebootFn fn, const char* kmsg_path);

}  // namespace boot
}  // namespace initos
