// Placeholder until this command is implemented on its branch.
#include "image/image_cli.h"

#include <cstdio>

namespace initos {

int ImageMain(const std::vector<std::string>&) {
  std::fputs("initos: this command is not implemented yet\n", stderr);
  return 2;
}

}  // namespace initos
