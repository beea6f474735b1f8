// Placeholder until this command is implemented on its branch.
#include "init/reaper.h"

#include <cstdio>

namespace initos {

int ReaperMain(const std::vector<std::string>&) {
  std::fputs("initos: this command is not implemented yet\n", stderr);
  return 2;
}

}  // namespace initos
