// Built as part of initos_format's world: format may not include boot/.
// The layer_direction_refused test expects this to fail with "No such file".
#include "boot/pid1.h"

int LayerProbeRefused() {
  return 0;
}
