// Kernel command line (/proc/cmdline) parsing. Pure: takes the text.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "format/config.h"

namespace initos {
inline namespace format {

struct KernelParam {
  std::string key;
  std::string value;  // "" for a bare flag
  bool has_value = false;
};

// Splits like the kernel does: whitespace separated, double quotes group
// (and are removed wherever they appear), stops at a bare unquoted "--"
// (what follows belongs to init's argv).
std::vector<KernelParam> ParseKernelCmdline(std::string_view cmdline);

// Applies every `initos.KEY=VALUE` parameter to config via ApplyOverride
// (other parameters, `init=` included, are ignored: bootloaders set those
// for other inits). Returns one problem (file "kernel command line", key
// "initos.KEY") per bad or unknown parameter; the rest still apply.
std::vector<ConfigProblem> ApplyKernelCmdline(Config& config,
                                              const std::vector<KernelParam>& params);

}  // namespace format
}  // namespace initos
