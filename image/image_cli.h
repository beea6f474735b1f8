// `initos image SUBCOMMAND ...`: host-side image tools (initramfs, keygen,
// build, verify, info, ...).
#pragma once

#include <string>
#include <vector>

namespace initos {

// args: the arguments after `initos image`.
int ImageMain(const std::vector<std::string>& args);

}  // namespace initos
