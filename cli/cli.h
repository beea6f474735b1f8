// Command-line dispatch for the single `initos` binary.
#pragma once

namespace initos {
inline namespace cli {

// Chooses the mode from argv[0], the PID and the first argument:
//  - PID 1, or `initos init`:        the init (init/pid1.h)
//  - argv[0] "tini", `initos reap`:  tini-like reaper (init/reaper.h)
//  - `initos poweroff|reboot|halt`:  ask PID 1 to shut down (init/control.h)
//  - `initos image ...`:             host-side image tools (image/image_cli.h)
int RunCli(int argc, char** argv);

}  // namespace cli
}  // namespace initos
