#include "os/modules.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/file.h"
#include "base/log.h"
#include "base/sys/syscalls.h"

namespace initos {
inline namespace os {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

// Module paths are copied into initramfs trees and opened under a root:
// they must stay inside it.
bool SafeRelativePath(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  size_t i = 0;
  while (i <= p.size()) {
    size_t slash = p.find('/', i);
    if (slash == std::string_view::npos) slash = p.size();
    if (p.substr(i, slash - i) == "..") return false;
    i = slash + 1;
  }
  return true;
}

bool IsUncompressedKo(std::string_view p) {
  return p.size() >= 3 && p.substr(p.size() - 3) == ".ko";
}

struct Resolver {
  const ModuleDb& db;
  std::string_view source;
  std::map<std::string, int> state;  // 1 visiting, 2 done
  std::vector<std::string> order;

  // Depth-first, emitting a module after all its dependencies.
  Result<void> Visit(const std::string& path, const std::string& requested) {
    int& s = state[path];
    if (s == 2) return {};
    if (s == 1) return Err() << source << "/modules.dep: dependency cycle through " << path;
    if (!IsUncompressedKo(path)) {
      return Err() << "kernel module " << path << " (needed for '" << requested
                   << "') is compressed; InitOS loads only uncompressed .ko files: decompress "
                      "it and re-run depmod";
    }
    s = 1;
    auto it = db.deps.find(path);
    if (it != db.deps.end()) {
      for (const auto& dep : it->second) INITOS_TRY(Visit(dep, requested));
    }
    state[path] = 2;
    order.push_back(path);
    return {};
  }
};

}  // namespace

std::string NormalizeModuleName(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  size_t ko = name.find(".ko");
  if (ko != std::string_view::npos) name = name.substr(0, ko);
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

Result<ModuleDb> ParseModuleDb(std::string_view modules_dep, std::string_view modules_builtin,
                               std::string_view source) {
  ModuleDb db;
  int lineno = 0;
  for (std::string_view raw : Lines(modules_dep)) {
    ++lineno;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Err() << source << "/modules.dep:" << lineno << ": expected 'path: deps...'";
    }
    std::string path(Trim(line.substr(0, colon)));
    std::vector<std::string> deps = Words(line.substr(colon + 1));
    for (const auto& p : deps) {
      if (!SafeRelativePath(p)) {
        return Err() << source << "/modules.dep:" << lineno << ": bad module path '" << p << "'";
      }
    }
    if (!SafeRelativePath(path)) {
      return Err() << source << "/modules.dep:" << lineno << ": bad module path '" << path << "'";
    }
    // depmod lists each module once; keep the first like modprobe does.
    db.path.emplace(NormalizeModuleName(path), path);
    db.deps.emplace(path, std::move(deps));
  }
  for (std::string_view raw : Lines(modules_builtin)) {
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    db.builtin.insert(NormalizeModuleName(line));
  }
  return db;
}

Result<ModuleResolution> ResolveModules(const ModuleDb& db, const std::vector<std::string>& names,
                                        std::string_view source, std::string_view unknown_hint) {
  ModuleResolution res;
  Resolver r{db, source, {}, {}};
  for (const auto& name : names) {
    std::string key = NormalizeModuleName(name);
    if (key.empty()) return Err() << "empty kernel module name in the module list";
    auto it = db.path.find(key);
    if (it != db.path.end()) {
      INITOS_TRY(r.Visit(it->second, name));
    } else if (db.builtin.count(key)) {
      res.builtin.push_back(name);
    } else {
      std::string hint(unknown_hint);
      for (size_t at = hint.find("NAME"); at != std::string::npos; at = hint.find("NAME", at)) {
        hint.replace(at, 4, name);
        at += name.size();
      }
      return Err() << "kernel module '" << name << "' is not in " << source
                   << "/modules.dep nor modules.builtin" << (hint.empty() ? "" : "; ") << hint;
    }
  }
  res.load = std::move(r.order);
  return res;
}

Result<ModuleDb> ReadModuleDb(const std::string& modules_root) {
  auto dep = ReadFileToString(modules_root + "/modules.dep");
  if (!dep.ok()) {
    return Wrap(dep.error(), "no module database (run depmod, or pass the right --kver)");
  }
  std::string builtin;
  auto b = ReadFileToString(modules_root + "/modules.builtin");
  if (b.ok()) {
    builtin = std::move(*b);
  } else if (b.error().code != ENOENT) {
    return b.error();
  }
  return ParseModuleDb(*dep, builtin, modules_root);
}

std::string FormatModulesDep(const ModuleDb& db, const std::vector<std::string>& paths) {
  std::vector<std::string> sorted = paths;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& p : sorted) {
    out += p + ":";
    auto it = db.deps.find(p);
    if (it != db.deps.end()) {
      for (const auto& d : it->second) out += " " + d;
    }
    out += "\n";
  }
  return out;
}

Result<void> LoadModules(const std::string& modules_root, const std::vector<std::string>& names) {
  if (names.empty()) return {};
  auto db = ReadModuleDb(modules_root);
  if (!db.ok()) return db.error();
  auto res = ResolveModules(*db, names, modules_root,
                            "rebuild the initramfs with `initos image initramfs --module NAME` "
                            "(or NAME in the [init] modules of its --config)");
  if (!res.ok()) return res.error();
  for (const auto& name : res->builtin) LOG(Debug) << "module " << name << " is built in";
  for (const auto& rel : res->load) {
    std::string path = modules_root + "/" + rel;
    auto fd = OpenFile(path, O_RDONLY);
    if (!fd.ok()) return Wrap(fd.error(), "load kernel module");
    if (sys::FinitModule(fd->get(), "", 0) != 0) {
      if (errno == EEXIST) {
        LOG(Info) << "module " << NormalizeModuleName(rel) << " already loaded";
        continue;
      }
      return ErrnoError() << "finit_module " << path;
    }
    LOG(Info) << "loaded module " << NormalizeModuleName(rel) << " (" << rel << ")";
  }
  return {};
}

}  // namespace os
}  // namespace initos
