// What PID 1 does in a VM jail's guest ([guest] in the config the
// supervisor wrote, jail/vm_guest.h) around the switch-root handover:
// starts the vsock agent (boot/guest/guest_agent.h) so that it outlives the
// handover, and reports "READY jail version" to the host right before it
// execs the OS. Neither is fatal: the OS boots without them, with a warning.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "format/config.h"

namespace initos {
inline namespace boot {

// Binds the agent's vsock socket (any CID, kVmAgentPort) and starts
// `initos guest-agent` as '@initos-agent' (the '@' keeps systemd's final
// killing spree off it, as for the sidecar), in a new session, with the
// listening socket, an fd of PID 1's mount namespace (the agent cannot
// reach /proc by path once the handover moved it) and /dev/kmsg as stderr.
// Everything is open before this returns, so the host can connect as soon
// as READY arrives. `root` prefixes /proc and /dev (tests).
Result<pid_t> StartGuestAgent(const std::string& root = "/");

// Connects to the host (cid, port) over vsock and writes the READY line,
// giving up after `timeout`.
Result<void> SendGuestReady(std::string_view jail, uint64_t version, uint32_t cid, uint32_t port,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

// PID 1's calls: do nothing without [guest] vsock = true; log a warning
// and carry on when something fails.
void StartGuestAgentIfEnabled(const Config& config, const std::string& root);
void ReportGuestReadyIfEnabled(const Config& config, uint64_t version);

}  // namespace boot
}  // namespace initos
