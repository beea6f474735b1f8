// The ACPI power button in a VM jail's guest. The host stops a VM jail
// with QMP system_powerdown, which presses the guest's ACPI power button;
// in a systemd guest only systemd-logind acts on it, and a guest without
// logind (a minimal Debian, busybox) would ignore it until the host quits
// QEMU at the stop timeout. So PID 1 in the guest starts a watcher before
// the handover, as it starts the agent: `initos guest-power-key` as
// '@initos-powerkey', holding the evdev node of the power button, which
// powers the guest off on a press (PoweroffGuest: SIGRTMIN+4 to systemd,
// else SIGTERM to all, sync, reboot(POWER_OFF)). Needs the button and
// evdev modules (jail/vm_guest.cpp loads them). Never fatal.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "format/config.h"

namespace initos {
inline namespace boot {

inline constexpr char kGuestPowerKeyArgv0[] = "@initos-powerkey";
inline constexpr char kGuestPowerKeyCommand[] = "guest-power-key";

// Every ROOT/dev/input/event* whose key bits include KEY_POWER: the ACPI
// power button, and on q35 also the AT keyboard (which has that key too),
// so the watcher reads them all.
Result<std::vector<unique_fd>> OpenPowerKeys(const std::string& root = "/");
// Starts the watcher with those evdev fds as its fds 3, 4, ...
Result<pid_t> StartGuestPowerKey(const std::string& root = "/");
// PID 1's call: only in a VM jail's guest ([guest] jail set); a warning
// when it cannot start.
void StartGuestPowerKeyIfGuest(const Config& config, const std::string& root);
// `initos guest-power-key --fd N [--fd M ...]`: waits for a press of the
// power key on any of them, then powers off.
int GuestPowerKeyMain(const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
