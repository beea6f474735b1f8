#include "image/image_cli.h"

#include <cstdio>
#include <string>

namespace initos {
inline namespace image {
namespace {

constexpr ImageCommand kCommands[] = {
#define INITOS_IMAGE_COMMAND(name, fn, summary) {name, fn, summary},
#include "image/image_commands.inc"
#undef INITOS_IMAGE_COMMAND
};

void PrintUsage(FILE* out) {
  std::fputs(
      "usage: initos image SUBCOMMAND [ARGS]\n"
      "\n"
      "Host-side tools that build and check InitOS boot images.\n"
      "Subcommands:\n",
      out);
  for (const auto& c : kCommands) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fputs("\nEvery subcommand takes --help.\n", out);
}

}  // namespace

int ImageMain(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintUsage(stderr);
    return 2;
  }
  const std::string& cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintUsage(stdout);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (cmd == c.name) return c.main(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::fprintf(stderr, "initos: unknown image subcommand '%s'; run `initos image --help`\n",
               cmd.c_str());
  return 2;
}

}  // namespace image
}  // namespace initos
