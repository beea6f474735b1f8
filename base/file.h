// Small file helpers returning Result, shared by every module so nobody
// re-writes the read/write loops. All opens use O_CLOEXEC.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace base {

// open(2) with O_CLOEXEC always added.
Result<unique_fd> OpenFile(const std::string& path, int flags, mode_t mode = 0);
Result<std::string> ReadFileToString(const std::string& path);
Result<std::string> ReadFdToString(int fd);
Result<void> WriteStringToFile(const std::string& path, std::string_view data, mode_t mode = 0644);
Result<void> WriteFully(int fd, const void* data, size_t size);
Result<void> ReadFully(int fd, void* data, size_t size);
// mkdir -p; existing directories are fine.
Result<void> MakeDirs(const std::string& path, mode_t mode = 0755);

// Copies a file, symlink or directory tree from src to dst (parents
// created): modes kept, regular files, directories and symlinks only
// (device nodes come from /dev). follow: a symlink at src itself is copied
// as what it points to. one_file_system: directories of another filesystem
// below src (mount points) are created empty, not entered.
struct CopyOptions {
  bool follow = false;
  bool one_file_system = false;
};
Result<void> CopyTree(const std::string& src, const std::string& dst, CopyOptions options = {});

// `path` (absolute) inside the directory tree `root`: tests and PID 1 run
// the same code against a temp dir or "/". Root "" or "/" gives `path`
// itself, path "/" gives the root (without a trailing slash). A plain string join: it does not
// resolve symlinks, so it is for trees we built ourselves, never for paths inside an untrusted
// filesystem.
std::string PathUnderRoot(const std::string& root, const std::string& path);

}  // namespace base
}  // namespace initos
