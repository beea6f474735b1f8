// `initos sidecar [OPTIONS]`: the SSH sidecar's supervisor, as exec'ed by the
// launcher (argv[0] "@initos-sidecar") inside the sidecar's own root.
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace sidecar {

// args: the arguments after `initos sidecar`. Returns the exit code.
int SidecarMain(const std::vector<std::string>& args);

}  // namespace sidecar
}  // namespace initos
