// initos-reap: the tini-compatible reaper alone (`initos reap` without the
// rest of initos). Same sources as `initos reap`; the link pulls in only what
// the reaper uses, so a container pays ~1 MB of peak memory for its PID 1
// instead of the ~2.2 MB the full binary's start-up touches (its code is
// spread among the image tools, OpenSSL, zstd, ...; docs/performance.md).
// Also answers to the name `tini`, like initos.
#include <sys/reboot.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "boot/reaper.h"
#include "boot/terminate.h"

int main(int argc, char** argv) {
  // As initos does for a container's PID 1: an escaping exception must not
  // end the container silently.
  if (::getpid() == 1) initos::InstallPid1TerminateHandler(RB_AUTOBOOT);
  return initos::ReaperMain(std::vector<std::string>(argv + 1, argv + argc));
}
