// Validators for the string values of the config that have a syntax of their
// own (device specs, listen addresses, SSH keys). Pure: no syscalls. Each
// error message says what is wrong and what a correct value looks like.
#pragma once

#include <cstddef>
#include <string_view>

#include "base/result.h"

namespace initos {
inline namespace format {

// "PARTLABEL=name", "LABEL=name", "LABEL=name:/abs/path/file.bundle" (a
// bundle file inside the filesystem with that label) or "SERIAL=serial" (a
// whole disk holding the bundle, as a VM jail's guest sees it). "" means no
// image.
Result<void> ValidateImageSpec(std::string_view spec);

// Why `path` is not a plain absolute path, "" when it is: not absolute, an
// empty, "." or ".." component, or a space, comma or control character
// (list separators on the kernel command line; a way to smuggle a path).
std::string PlainAbsolutePathProblem(std::string_view path);

// "LABEL=name", "PARTLABEL=name", "PARTUUID=guid" or "SERIAL=serial" (no
// path). "" means none.
Result<void> ValidateDeviceSpec(std::string_view spec);

// A whole disk's serial number as virtio-blk carries it: 1 to 20 letters,
// digits and . _ - + (VIRTIO_BLK_ID_BYTES).
Result<void> ValidateDiskSerial(std::string_view serial);

// A GUID written 8-4-4-4-12 hex digits (GPT partition and type GUIDs).
Result<void> ValidateGuid(std::string_view guid);

// Numeric "IPv4:port" or "[IPv6]:port", port 1..65535.
Result<void> ValidateListenAddress(std::string_view addr);

// One OpenSSH authorized_keys line without options: "TYPE BASE64 [comment]";
// the base64 blob must decode and name the same TYPE.
Result<void> ValidateAuthorizedKey(std::string_view line);

// Product names as in the manifest (`initos image build --name`):
// [A-Za-z0-9._+-]{1,64}.
Result<void> ValidateImageName(std::string_view name);

// Levenshtein distance, for "did you mean KEY?" on unknown keys.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace format
}  // namespace initos
