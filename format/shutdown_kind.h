// The one list of ways a machine can go down, and their names: PID 1's
// "shutdown: WORD" lines, `initos poweroff|reboot|halt`, the verb systemd
// passes to /run/initramfs/shutdown, and the failure policy's outcomes all
// use these words.
#pragma once

#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

enum class ShutdownKind { kPoweroff, kReboot, kHalt, kKexec };

// "poweroff", "reboot", "halt", "kexec".
std::string_view ShutdownKindName(ShutdownKind kind);

// The inverse; an unknown word is an error naming the accepted ones.
Result<ShutdownKind> ParseShutdownKind(std::string_view word);

}  // namespace format
}  // namespace initos
