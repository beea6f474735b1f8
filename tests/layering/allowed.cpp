// The control for layer_direction_refused: format may include base/ and its
// own headers, so this compiles with the same include paths.
#include "base/result.h"
#include "format/config.h"

int LayerProbeAllowed() {
  return 0;
}
