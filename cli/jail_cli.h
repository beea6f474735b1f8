// `initos jail ...`: the admin's commands for the jails (client of the
// control socket, jail/control_server.h) and `initos jail run`.
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace cli {

int JailMain(const std::vector<std::string>& args);

}  // namespace cli
}  // namespace initos
