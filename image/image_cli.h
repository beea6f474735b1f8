// `initos image SUBCOMMAND ...`: host-side image tools (initramfs, keygen,
// build, verify, info, ...).
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace image {

// args: the arguments after `initos image`.
int ImageMain(const std::vector<std::string>& args);

// Every subcommand is `int XxxMain(args)` (args after the subcommand name)
// and handles its own --help. They are listed once, in image_commands.inc.
using ImageCommandFn = int (*)(const std::vector<std::string>& args);

struct ImageCommand {
  const char* name;
  ImageCommandFn main;
  const char* summary;  // one line for `initos image --help`
};

#define INITOS_IMAGE_COMMAND(name, fn, summary) int fn(const std::vector<std::string>& args);
#include "image/image_commands.inc"
#undef INITOS_IMAGE_COMMAND

}  // namespace image
}  // namespace initos
