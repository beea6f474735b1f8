#include "os/elf_libraries.h"

#include <elf.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <set>

#include "base/file.h"

namespace initos {
inline namespace os {
namespace {

template <typename T>
bool ReadAt(std::string_view b, uint64_t off, T* out) {
  if (off > b.size() || b.size() - off < sizeof(T)) return false;
  std::memcpy(out, b.data() + off, sizeof(T));
  return true;
}

}  // namespace

Result<ElfDynamic> ParseElfDynamic(std::string_view elf) {
  Elf64_Ehdr eh;
  if (!ReadAt(elf, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return Err() << "not an ELF file";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return Err() << "not a 64-bit little-endian ELF file";
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) return Err() << "bad ELF program header size";
  ElfDynamic out;
  std::vector<Elf64_Phdr> loads;
  Elf64_Phdr dynamic{};
  bool has_dynamic = false;
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!ReadAt(elf, eh.e_phoff + uint64_t{i} * sizeof(ph), &ph))
      return Err() << "truncated ELF program headers";
    if (ph.p_type == PT_LOAD) loads.push_back(ph);
    if (ph.p_type == PT_DYNAMIC) dynamic = ph, has_dynamic = true;
    if (ph.p_type == PT_INTERP) {
      if (ph.p_offset > elf.size() || elf.size() - ph.p_offset < ph.p_filesz)
        return Err() << "truncated ELF interpreter";
      std::string_view s = elf.substr(ph.p_offset, ph.p_filesz);
      out.interpreter = std::string(s.substr(0, s.find('\0')));
    }
  }
  if (!has_dynamic) return out;
  // The string table is named by its address: map it through the segments.
  auto file_offset = [&](uint64_t vaddr) -> std::optional<uint64_t> {
    for (const auto& l : loads)
      if (vaddr >= l.p_vaddr && vaddr - l.p_vaddr < l.p_filesz)
        return vaddr - l.p_vaddr + l.p_offset;
    return std::nullopt;
  };
  std::vector<uint64_t> needed;
  uint64_t strtab = 0, strsz = 0;
  for (uint64_t off = dynamic.p_offset;
       off + sizeof(Elf64_Dyn) <= dynamic.p_offset + dynamic.p_filesz; off += sizeof(Elf64_Dyn)) {
    Elf64_Dyn d;
    if (!ReadAt(elf, off, &d)) return Err() << "truncated ELF dynamic section";
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_NEEDED) needed.push_back(d.d_un.d_val);
    if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
    if (d.d_tag == DT_STRSZ) strsz = d.d_un.d_val;
  }
  if (needed.empty()) return out;
  auto table = file_offset(strtab);
  if (!table || *table > elf.size() || elf.size() - *table < strsz)
    return Err() << "ELF string table outside the file";
  std::string_view strings = elf.substr(*table, strsz);
  for (uint64_t n : needed) {
    if (n >= strings.size()) return Err() << "ELF DT_NEEDED outside the string table";
    std::string_view name = strings.substr(n);
    out.needed.emplace_back(name.substr(0, name.find('\0')));
  }
  return out;
}

std::vector<std::string> DefaultLibraryDirs() {
  return {"/lib/x86_64-linux-gnu",
          "/usr/lib/x86_64-linux-gnu",
          "/lib64",
          "/usr/lib64",
          "/lib",
          "/usr/lib"};
}

Result<std::vector<std::string>> ElfSharedLibraries(const std::string& binary,
                                                    const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  std::set<std::string> seen_names;
  std::vector<std::string> queue = {binary};
  std::string interpreter;
  for (size_t i = 0; i < queue.size(); ++i) {
    auto bytes = ReadFileToString(queue[i]);
    if (!bytes.ok()) return bytes.error();
    auto dyn = ParseElfDynamic(*bytes);
    if (!dyn.ok()) return Wrap(dyn.error(), queue[i]);
    if (i == 0) {
      interpreter = dyn->interpreter;
      // libc names the loader too (ld-linux-x86-64.so.2): already loaded.
      if (!interpreter.empty()) seen_names.insert(interpreter.substr(interpreter.rfind('/') + 1));
    }
    for (const std::string& name : dyn->needed) {
      if (!seen_names.insert(name).second) continue;
      std::string found;
      for (const std::string& d : dirs)
        if (::access((d + "/" + name).c_str(), R_OK) == 0) {
          found = d + "/" + name;
          break;
        }
      if (found.empty())
        return Err() << "shared library " << name << " of " << queue[i]
                     << " not found in the library directories (install its package)";
      out.push_back(found);
      queue.push_back(found);
    }
  }
  if (!interpreter.empty()) out.push_back(interpreter);
  return out;
}

}  // namespace os
}  // namespace initos
