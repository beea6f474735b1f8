// The ordered mounts that build a container jail's root inside its new
// mount namespace, as data (pure, unit-tested): fresh /proc with the runc
// masks and read-only paths, read-only /sys, the jail's own cgroup2 root,
// a minimal /dev (tmpfs, granted device nodes bound from the host, a
// newinstance devpts), tmpfs /run and /tmp, systemd's container interface
// file, then the [[jail]] mounts. Every target is an absolute path INSIDE
// the jail; jail/mounts.h resolves each one within the rootfs
// (openat2 RESOLVE_IN_ROOT), so a symlink in the image never sends a
// mount outside it.
#pragma once

#include <string>
#include <vector>

#include "format/jail_config.h"

namespace initos {
inline namespace jail {

struct MountStep {
  enum class Kind {
    kFilesystem,       // mount a new fstype instance at target
    kBind,             // bind source (host path, or inside the jail) onto target
    kRemountReadOnly,  // the mount at target becomes read-only (locked flags kept)
    kSymlink,          // target -> source (the link text)
    kWriteFile,        // target gets `source` as content (created 0644)
  };
  enum class TargetType { kDirectory, kFile, kLikeSource };
  Kind kind = Kind::kFilesystem;
  std::string source;  // host path; fs source name; link text; file content
  std::string target;  // absolute, inside the jail
  std::string fstype;
  unsigned long flags = 0;  // MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC
  std::string data;         // filesystem options
  TargetType target_type = TargetType::kDirectory;
  bool source_in_jail = false;  // kBind: source resolves inside the rootfs
  bool recursive = false;       // kBind: MS_REC
  bool optional = false;        // skipped when the target (or source) does not exist
  bool operator==(const MountStep&) const = default;
};

struct MountPlanInput {
  const JailConfig* config = nullptr;
  bool user_namespace = true;   // unprivileged: device nodes only from the default set
  bool new_netns = true;        // sysfs can be mounted fresh (else host /sys bound read-only)
  bool console_is_tty = false;  // /dev/console = bind of stdin (the console pty slave)
  bool gid5_mapped = true;      // devpts gid=5 (tty) only when that gid exists inside
};

// /proc files hidden behind /dev/null and directories behind an empty
// read-only tmpfs (runc's maskedPaths), and paths made read-only
// (readonlyPaths).
extern const char* const kMaskedProcFiles[];
extern const char* const kMaskedDirs[];
extern const char* const kReadOnlyPaths[];

std::vector<MountStep> BuildMountPlan(const MountPlanInput& in);

// "bind /dev/null -> /proc/kcore": one line per step, for messages and tests.
std::string DescribeMountStep(const MountStep& step);

}  // namespace jail
}  // namespace initos
