// The API filesystems PID 1 mounts before anything else (/proc, /sys, /dev,
// /dev/pts, /dev/shm, /run, /sys/fs/cgroup), and /proc/self/mountinfo parsing
// for the unmount pass at shutdown. Mount targets are relative to an injected
// root so tests mount into a temp dir inside a private mount namespace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace os {

struct MountSpec {
  std::string source;
  std::string target;  // absolute path below the root, e.g. "/dev/pts"
  std::string fstype;
  unsigned long flags = 0;  // MS_* flags
  std::string data;         // filesystem options
  bool optional = false;    // failure is a warning, not an error (e.g. cgroup2 on old kernels)
};

// The early mounts, in the order they must happen (parents first).
std::vector<MountSpec> EarlyMounts();

// Mounts every spec below root (mkdir -p the target first). A target that is
// already mounted (EBUSY) counts as done. Returns one error listing every
// failed non-optional mount; the others are still attempted.
Result<void> MountEarly(const std::string& root, const std::vector<MountSpec>& specs);

struct MountInfoEntry {
  int id = 0;
  int parent_id = 0;
  std::string mount_point;  // unescaped (\040 -> space)
  std::string fstype;
};

// Parses /proc/self/mountinfo text. Malformed lines are skipped.
std::vector<MountInfoEntry> ParseMountInfo(std::string_view text);

// Mount points in the order to unmount them: the reverse of mount order, so
// children go before their parents.
std::vector<std::string> UnmountOrder(const std::vector<MountInfoEntry>& entries);

}  // namespace os
}  // namespace initos
