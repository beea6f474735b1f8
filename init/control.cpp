// Placeholder until this command is implemented on its branch.
#include "init/control.h"

#include <cstdio>

namespace initos {

int ControlMain(const std::string&, const std::vector<std::string>&) {
  std::fputs("initos: this command is not implemented yet\n", stderr);
  return 2;
}

}  // namespace initos
