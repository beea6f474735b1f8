// Making the EROFS data image of a bundle with erofs-utils' mkfs.erofs, from a
// directory or from a tarball (Debian 12's erofs-utils 1.5 has no --tar, so a
// tarball is extracted into a temporary directory first, owners kept).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
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

// Like RunTool, but the tool's stdout and stderr are collected: on failure
// the error ends with its last line of output (tools that chatter warnings
// on success: sbsign, mtools). `env` entries "K=V" are added to ours.
Result<void> RunToolQuietly(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env = {});

// Full path of `name` in $PATH, or "" if it isn't there.
std::string FindInPath(const std::string& name);

// rm -rf without following symlinks.
Result<void> RemoveTree(const std::string& path);

// A temporary directory (PARENT/PREFIX.XXXXXX) removed with everything in
// it when this goes out of scope.
class ScratchDir {
 public:
  static Result<ScratchDir> Create(const std::string& parent, const std::string& prefix);
  ScratchDir() = default;
  ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ScratchDir& operator=(ScratchDir&& o) noexcept {
    if (this != &o) {
      if (!path_.empty()) (void)RemoveTree(path_);
      path_ = std::move(o.path_);
      o.path_.clear();
    }
    return *this;
  }
  ~ScratchDir() {
    if (!path_.empty()) (void)RemoveTree(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace image
}  // namespace initos
