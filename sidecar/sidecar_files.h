// Which files the SSH sidecar needs (sshd, ssh-keygen, their shared
// libraries, a shell), computed on the build host when the initramfs is
// made, and the manifest that tells the sidecar at boot what to copy into its
// own tmpfs before the initramfs is deleted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace sidecar {

struct FileMapping {
  std::string source;  // host path (build time)
  std::string dest;    // absolute path inside the initramfs / sidecar root
  bool operator==(const FileMapping&) const = default;
};

// Where the manifest lives in the initramfs (one absolute path per line).
inline constexpr char kSidecarManifest[] = "/etc/initos/sidecar.files";

// Absolute library paths from `ldd BINARY` output, including the dynamic
// loader; the vDSO (no file) is skipped. "not found" is an error naming the
// library; a static binary gives an empty list.
Result<std::vector<std::string>> ParseLddOutput(std::string_view text);

// The shared libraries `binary` loads, from running `ldd binary` on the
// build host (empty for a static binary). Also used for mke2fs (--with-mkfs).
Result<std::vector<std::string>> SharedLibraries(const std::string& binary,
                                                 const std::string& ldd = "ldd");

struct SidecarFilesSpec {
  std::string sshd = "/usr/sbin/sshd";
  std::string keygen = "/usr/bin/ssh-keygen";
  std::string shell = "/bin/busybox";  // static busybox: sh plus the usual tools
  std::string ldd = "ldd";             // run on the build host
};

// The programs, mapped to fixed destinations (/usr/sbin/sshd,
// /usr/bin/ssh-keygen, /bin/busybox), plus every shared library they load
// (same path on both sides). Runs ldd. Sorted by dest, no duplicates.
Result<std::vector<FileMapping>> SidecarFiles(const SidecarFilesSpec& spec = {});

// Manifest text for a file list, and back (blank lines and '#' comments are
// ignored; relative paths and ".." are refused).
std::string SidecarManifestText(const std::vector<FileMapping>& files);
Result<std::vector<std::string>> ParseSidecarManifest(std::string_view text);

}  // namespace sidecar
}  // namespace initos
