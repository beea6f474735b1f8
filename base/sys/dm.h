// Device-mapper through its ioctl interface on /dev/mapper/control
// (linux/dm-ioctl.h). PID 1 has no libdevmapper or dmsetup in the initramfs,
// and it needs only five commands: create, load a table, resume, status,
// remove. The buffer encoding is split out as pure functions so tests can
// check it without a kernel.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace base {

// One line of a dm table, as `dmsetup table` prints it.
struct DmTarget {
  uint64_t start = 0;   // first sector (512 bytes) of the mapped device it covers
  uint64_t length = 0;  // sectors
  std::string type;     // "verity", "linear", ...
  std::string params;   // target-specific parameter string
};

// ---- pure buffer encoding (exposed for tests) -------------------------------

// A dm_ioctl header for `name` (and `uuid`, may be empty) followed by the
// targets as dm_target_spec + NUL-terminated params, each spec 8-byte aligned
// and `next` relative to the spec itself (the DM_TABLE_LOAD convention).
// `flags` is copied into dm_ioctl.flags (e.g. DM_READONLY_FLAG).
Result<std::vector<uint8_t>> BuildDmTableLoad(const std::string& name,
                                              const std::vector<DmTarget>& targets, uint32_t flags);

// A bare dm_ioctl header of `size` bytes (>= sizeof(dm_ioctl)) for `name`.
Result<std::vector<uint8_t>> BuildDmHeader(const std::string& name, const std::string& uuid,
                                           uint32_t flags, size_t size);

// Decodes the targets of a DM_TABLE_STATUS reply (`next` relative to the
// first spec, the DM_TABLE_STATUS convention). Bounds-checked: a malformed
// reply is an error, not a crash.
Result<std::vector<DmTarget>> ParseDmTargets(const std::vector<uint8_t>& reply);

// ---- the control device -----------------------------------------------------

class DeviceMapper {
 public:
  // Opens /dev/mapper/control (or `control_path`), creating the node from
  // /sys/class/misc/device-mapper/dev when devtmpfs has not, and checks the
  // ioctl interface major version.
  static Result<DeviceMapper> Open(const std::string& control_path = "/dev/mapper/control",
                                   const std::string& sys_root = "/sys");

  // Kernel's dm ioctl interface version, e.g. {4, 47, 0}.
  Result<std::vector<uint32_t>> Version();
  // Creates an empty (inactive, suspended) device; returns its dev_t.
  Result<dev_t> Create(const std::string& name, const std::string& uuid, uint32_t flags = 0);
  // Loads an inactive table. `read_only` sets DM_READONLY_FLAG (required for
  // verity so the underlying devices are opened read-only).
  Result<void> LoadTable(const std::string& name, const std::vector<DmTarget>& targets,
                         bool read_only);
  // Resumes the device: swaps in the loaded table and starts I/O.
  Result<void> Resume(const std::string& name);
  // Removes the device (fails with EBUSY while it is mounted or open).
  Result<void> Remove(const std::string& name);
  // Status line of every target (DM_TABLE_STATUS without DM_STATUS_TABLE_FLAG);
  // for verity the params are "V" (verified so far) or "C" (corruption seen).
  Result<std::vector<DmTarget>> Status(const std::string& name);
  // The dm device's dev_t, or ENXIO-coded error when no such device.
  Result<dev_t> DevNo(const std::string& name);

 private:
  explicit DeviceMapper(unique_fd fd) : fd_(std::move(fd)) {}
  // Issues `cmd` with `buf` (a dm_ioctl header + payload), updated in place.
  Result<void> Ioctl(unsigned long cmd, const char* what, const std::string& name,
                     std::vector<uint8_t>& buf);

  unique_fd fd_;
};

// Creates a read-only dm device `name` with one table, activates it and
// returns the path of its block node under `dev_dir` (/dev/dm-N: waits up
// to timeout_ms for devtmpfs to create it, then mknods it itself). Removes
// the device again if any step fails.
Result<std::string> CreateDmDevice(DeviceMapper& dm, const std::string& name,
                                   const std::string& uuid, const std::vector<DmTarget>& targets,
                                   bool read_only, const std::string& dev_dir = "/dev",
                                   int timeout_ms = 2000);

// Ensures a block node for `dev` exists as `dev_dir`/`name`: waits for
// devtmpfs up to timeout_ms, then creates it with mknod.
Result<std::string> EnsureBlockNode(dev_t dev, const std::string& dev_dir, const std::string& name,
                                    int timeout_ms);

}  // namespace base
}  // namespace initos
