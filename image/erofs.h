// Making the EROFS data image of a bundle with erofs-utils' mkfs.erofs, from a
// directory or from a tarball (Debian 12's erofs-utils 1.5 has no --tar, so a
// tarball is extracted into a temporary directory first, owners kept).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace image {

struct ErofsOptions {
  std::string source;      // directory or tarball (.tar, .tar.gz, .tar.zst, ...)
  std::string image_path;  // output file, replaced
  uint64_t timestamp = 0;  // every inode's time: makes the image reproducible
  std::string uuid;        // filesystem UUID, 8-4-4-4-12
  std::string temp_dir = "/tmp";
};

Result<void> MakeErofsImage(const ErofsOptions& options);

// Runs argv (argv[0] searched in PATH) and waits; error unless it exits 0.
// stdout is discarded, stderr goes to ours so the tool's message is seen.
Result<void> RunTool(const std::vector<std::string>& argv);

// Full path of `name` in $PATH, or "" if it isn't there.
std::string FindInPath(const std::string& name);

// rm -rf without following symlinks.
Result<void> RemoveTree(const std::string& path);

}  // namespace image
}  // namespace initos
