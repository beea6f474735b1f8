// Placeholder until this command is implemented on its branch.
#include "init/pid1.h"

#include <cstdio>

namespace initos {

int Pid1Main(const std::vector<std::string>&) {
  std::fputs("initos: this command is not implemented yet\n", stderr);
  return 2;
}

}  // namespace initos
