// Kernel modules: which .ko files to load, in which order, for a list of
// requested names. Resolution is pure (text of modules.dep/modules.builtin
// in, relative paths out); LoadModules is the syscall side used by PID 1.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace os {

struct ModuleDb {
  // Normalized module name -> path relative to /lib/modules/KVER.
  std::map<std::string, std::string> path;
  // Path -> the paths it depends on, as listed in modules.dep.
  std::map<std::string, std::vector<std::string>> deps;
  std::set<std::string> builtin;  // normalized names compiled into the kernel
};

// "dm-verity", "dm_verity", "kernel/drivers/md/dm-verity.ko.xz" -> "dm_verity".
// The kernel itself treats '-' and '_' in module names as the same.
std::string NormalizeModuleName(std::string_view name);

// Parses modules.dep ("path: dep dep ...") and modules.builtin (one path a
// line). `source` (e.g. the modules directory) labels parse errors.
Result<ModuleDb> ParseModuleDb(std::string_view modules_dep, std::string_view modules_builtin,
                               std::string_view source);

struct ModuleResolution {
  std::vector<std::string> load;     // relative .ko paths, every dependency before its user
  std::vector<std::string> builtin;  // requested names that need no loading
};

// Resolves names to the .ko files to load, each once. Unknown names and
// compressed modules (.ko.xz/.ko.zst/.ko.gz, which we cannot load) are errors;
// `unknown_hint` (how to fix a missing module where the caller runs; each
// "NAME" in it becomes the module's name) ends the unknown-module message.
Result<ModuleResolution> ResolveModules(const ModuleDb& db, const std::vector<std::string>& names,
                                        std::string_view source,
                                        std::string_view unknown_hint = {});

// Reads modules_root/modules.dep (+ modules.builtin if present).
Result<ModuleDb> ReadModuleDb(const std::string& modules_root);

// modules.dep text for just `paths` (as produced by ResolveModules), so an
// initramfs ships a database matching the modules it contains.
std::string FormatModulesDep(const ModuleDb& db, const std::vector<std::string>& paths);

// Loads the modules (dependencies first) from modules_root, e.g.
// /lib/modules/<kver>, with finit_module. A module already loaded is fine.
Result<void> LoadModules(const std::string& modules_root, const std::vector<std::string>& names);

}  // namespace os
}  // namespace initos
