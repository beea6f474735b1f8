#include "base/options.h"

namespace initos {
inline namespace base {

Result<Options> Options::Parse(const std::vector<std::string>& args,
                               const std::vector<OptionSpec>& specs) {
  auto find = [&specs](std::string_view key) -> const OptionSpec* {
    for (const auto& s : specs)
      if (key == s.name || (!s.alias.empty() && key == s.alias)) return &s;
    return nullptr;
  };
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      o.positional_.insert(o.positional_.end(), args.begin() + static_cast<long>(i) + 1,
                           args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      o.help_ = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      o.positional_.push_back(arg);
      continue;
    }
    std::string key = arg, value;
    bool inline_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    const OptionSpec* spec = find(key);
    if (!spec) return Err() << "unknown option '" << key << "'";
    std::vector<std::string>& slot = o.values_[spec->name];
    if (!spec->takes_value) {
      if (inline_value) return Err() << key << " takes no value";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return Err() << key << " needs a value";
      value = args[++i];
    }
    slot.push_back(value);
  }
  return o;
}

bool Options::Has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

std::optional<std::string> Options::One(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Options::All(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

}  // namespace base
}  // namespace initos
