// Loop devices: expose an image file (a root bundle on the boot partition,
// or a test image) as a read-only block device for dm-verity to sit on.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace os {

struct LoopOptions {
  uint64_t offset = 0;     // bytes into the file where the device starts
  uint64_t sizelimit = 0;  // bytes exposed; 0 = to the end of the file
  bool read_only = true;
  // Detach by itself once the last opener closes it (e.g. dm removes its
  // table): no cleanup needed on any error path.
  bool autoclear = true;
};

struct LoopDevice {
  std::string path;  // /dev/loopN
  int number = -1;
  unique_fd fd;  // keeps the device alive (autoclear) until released
};

// Attaches `file` to a free loop device: LOOP_CTL_GET_FREE, then
// LOOP_CONFIGURE (one atomic ioctl, Linux >= 5.8); falls back to
// LOOP_SET_FD + LOOP_SET_STATUS64 on older kernels. Retries when another
// process grabs the same free device first.
Result<LoopDevice> AttachLoop(const std::string& file, const LoopOptions& options,
                              const std::string& dev_dir = "/dev");

// The same for a file the caller opened itself (e.g. without following
// symlinks on an untrusted filesystem); `file` only names it in messages and
// lo_file_name. The loop device keeps its own reference to the file.
Result<LoopDevice> AttachLoopFd(int file_fd, const std::string& file, const LoopOptions& options,
                                const std::string& dev_dir = "/dev");

// Detaches explicitly (LOOP_CLR_FD). With autoclear set the kernel defers
// this to the last close, so EBUSY-free even while dm still holds it.
Result<void> DetachLoop(const LoopDevice& loop);

}  // namespace os
}  // namespace initos
