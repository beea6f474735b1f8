// Opening files on filesystems PID 1 does not trust (the state partition, a
// filesystem carrying a bundle file): whoever wrote that filesystem chose
// every name in it, so a symlink must never redirect an open, a FIFO must
// never block PID 1, and only regular files are read.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace base {

// Opens `rel` (relative, no leading '/') beneath the directory `dfd` with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) and
// `flags | O_NOFOLLOW | O_CLOEXEC`. ENOSYS (pre-5.6 kernel, or a seccomp
// filter) falls back to one openat(O_NOFOLLOW) per component. A symlink on
// the way fails with ELOOP, an escape with EXDEV; the error names `rel`.
Result<unique_fd> OpenBeneath(int dfd, const std::string& rel, int flags);

// OpenBeneath with O_RDONLY | O_NONBLOCK | O_NOCTTY, then fstat: only a
// regular file is returned; anything else is an error (code 0) "WHAT is a
// FIFO". `what` names the file in messages.
Result<unique_fd> OpenRegularBeneath(int dfd, const std::string& rel, const std::string& what);

// Creates (mode) and opens the directory `rel` beneath `dfd` one component
// at a time with mkdirat + openat(O_DIRECTORY | O_NOFOLLOW): a symlink or a
// non-directory anywhere on the way is an error naming that component, not
// something to follow. Returns the last directory's fd.
Result<unique_fd> MakeDirsBeneath(int dfd, const std::string& rel, mode_t mode);

// "is a directory", "is a symlink", "is a FIFO", ... for a stat mode.
std::string FileTypePhrase(mode_t mode);

// One phrase for why OpenRegularBeneath(.., what) failed: "is a symlink (or
// lies under one); not followed", "is a FIFO", "does not exist", ...
std::string UntrustedOpenProblem(const Error& e, const std::string& what);

}  // namespace base
}  // namespace initos
