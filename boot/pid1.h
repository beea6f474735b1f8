// PID-1 mode: the init sequence as an ordered list of stages, then the
// supervisor loop. Never returns when running as PID 1.
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace boot {

// args: arguments after `initos init` (or the kernel's argv for /init).
int Pid1Main(const std::vector<std::string>& args);

}  // namespace boot
}  // namespace initos
