// Internal to format/: reads [jails] and the [[jail]] entries out of the
// parsed TOML for ParseConfig. Only format/*.cpp include this header, so
// toml++ stays out of every public header (config.h, jail_config.h).
#pragma once

#include <string_view>
#include <vector>

#include "format/config.h"
#include "format/jail_check.h"

// The same settings as format/config.cpp (see CMakeLists.txt: one parser
// layout in the whole program).
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

namespace initos {
inline namespace format {

// Where the values land, problems go and key lines are recorded.
struct JailTomlSink {
  Config& config;
  std::string_view file;
  std::vector<ConfigProblem>& problems;
  JailSourceLines& lines;
};

// `jails` at the top level: the [jails] table. `line` is the key's line.
void ReadJailsSection(const toml::node& node, int line, JailTomlSink& sink);

// `jail` at the top level: the [[jail]] array of tables.
void ReadJailEntries(const toml::node& node, int line, JailTomlSink& sink);

// "integer", "string", ... for wrong-type messages.
std::string TomlTypeName(const toml::node& node);

}  // namespace format
}  // namespace initos
