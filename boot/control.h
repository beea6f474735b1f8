// `initos poweroff|reboot|halt`: ask PID 1 for an orderly shutdown.
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace boot {

// action: "poweroff", "reboot" or "halt"; args: the rest (e.g. --help).
int ControlMain(const std::string& action, const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
