// Reader for newc cpio archives (the inverse of cpio.h), for checking and
// describing initramfs images without unpacking them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace format {

struct CpioRecord {
  std::string name;
  uint32_t ino = 0, mode = 0, uid = 0, gid = 0, nlink = 0, mtime = 0;
  uint32_t dev_major = 0, dev_minor = 0, rdev_major = 0, rdev_minor = 0;
  std::string data;  // file contents or symlink target
};

// Parses every record up to (not including) TRAILER!!!. Errors name the
// offset of the first malformed header.
Result<std::vector<CpioRecord>> ParseNewc(std::string_view archive);

}  // namespace format
}  // namespace initos
