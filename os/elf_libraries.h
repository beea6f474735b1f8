// The shared libraries an ELF program loads, found the way the dynamic
// loader finds them (its PT_INTERP, then every DT_NEEDED, recursively, in
// the standard library directories), by reading files only: no ldd, so it
// also works where there is no shell or loader to run, such as a VM jail
// supervisor in PID 1's initramfs building a guest's initramfs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace os {

struct ElfDynamic {
  std::string interpreter;          // PT_INTERP ("" for a static program)
  std::vector<std::string> needed;  // DT_NEEDED names, in order
};

// Pure: reads a 64-bit little-endian ELF file's program headers and
// dynamic section from its bytes. A static program gives an empty result.
Result<ElfDynamic> ParseElfDynamic(std::string_view elf);

// Debian's multiarch directories first, as ld.so.conf orders them.
std::vector<std::string> DefaultLibraryDirs();

// Absolute paths of the interpreter and every library `binary` needs
// (transitively), each once, in the order found; empty for a static
// program. A library found in none of `dirs` is an error naming it.
Result<std::vector<std::string>> ElfSharedLibraries(
    const std::string& binary, const std::vector<std::string>& dirs = DefaultLibraryDirs());

}  // namespace os
}  // namespace initos
