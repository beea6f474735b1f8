// Writes the boot-state record PID 1 leaves after a first boot of slot a
// that was marked good (slot a holds VERSION, good; slot b empty), for
// bench/upgrade.sh, whose "device" is a directory on the host that no PID 1
// ever booted. Uses the record's real encoder and file (two copies, fsync).
//   boot_state_init STATE_DIR VERSION
#include <cstdio>
#include <cstdlib>
#include <string>

#include "format/boot_slots.h"
#include "os/boot_state_file.h"

int main(int argc, char** argv) {
  using namespace initos;
  if (argc != 3) {
    std::fprintf(stderr, "usage: boot_state_init STATE_DIR VERSION\n");
    return 2;
  }
  uint64_t version = std::strtoull(argv[2], nullptr, 10);
  auto f = BootStateFile::Open(argv[1], /*create=*/true);
  if (!f.ok()) {
    std::fprintf(stderr, "boot_state_init: %s\n", f.error().str().c_str());
    return 1;
  }
  BootState s;
  s.sequence = 1;
  s.primary = Slot::kA;
  s.at(Slot::kA) = SlotState{version, true, 0};
  s.highest_good_version = version;
  auto r = f->Store(s);
  if (!r.ok()) {
    std::fprintf(stderr, "boot_state_init: %s\n", r.error().str().c_str());
    return 1;
  }
  return 0;
}
