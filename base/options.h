// The one subcommand option parser: "--opt VALUE", "--opt=VALUE", short
// aliases ("-o VALUE"), flags, "--help"/"-h", positionals, and "--" ending
// the options. Each command declares its options once; everything it does
// not declare is an error naming the option and the command's --help.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace initos {
inline namespace base {

struct OptionSpec {
  std::string name = {};     // "--output"
  std::string alias = {};    // "-o", or ""
  bool takes_value = false;  // false: a flag
};

class Options {
 public:
  // Errors: "unknown option --x", "--output needs a value", "--json takes
  // no value". Options are stored under their long name.
  static Result<Options> Parse(const std::vector<std::string>& args,
                               const std::vector<OptionSpec>& specs);

  bool help() const { return help_; }
  bool Has(std::string_view name) const;                        // flag or value given
  std::optional<std::string> One(std::string_view name) const;  // last value
  std::vector<std::string> All(std::string_view name) const;    // every value, in order
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  bool help_ = false;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;  // flags: empty list
  std::vector<std::string> positional_;
};

}  // namespace base
}  // namespace initos
