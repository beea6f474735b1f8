#include "base/options.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {"--output", "-o", true}, {"--key", "", true}, {"--json", "", false}};

TEST(OptionsTest, ValuesFlagsAliasesAndPositionals) {
  auto o = Options::Parse({"a", "-o", "out", "--key=k1", "--key", "k2", "--json", "b"}, kSpecs);
  ASSERT_TRUE(o.ok()) << o.error().str();
  EXPECT_EQ(o->One("--output"), "out");
  EXPECT_EQ(o->All("--key"), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(o->One("--key"), "k2");
  EXPECT_TRUE(o->Has("--json"));
  EXPECT_FALSE(o->Has("--nothing"));
  EXPECT_EQ(o->One("--json"), std::nullopt);
  EXPECT_EQ(o->positional(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(o->help());
}

TEST(OptionsTest, HelpAndDoubleDash) {
  auto o = Options::Parse({"-h", "--", "--json", "-o"}, kSpecs);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help());
  EXPECT_FALSE(o->Has("--json"));
  EXPECT_EQ(o->positional(), (std::vector<std::string>{"--json", "-o"}));
}

TEST(OptionsTest, ErrorsNameTheOption) {
  auto unknown = Options::Parse({"--bogus"}, kSpecs);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().str(), "unknown option '--bogus'");
  auto missing = Options::Parse({"--key"}, kSpecs);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().str(), "--key needs a value");
  auto flag_value = Options::Parse({"--json=yes"}, kSpecs);
  ASSERT_FALSE(flag_value.ok());
  EXPECT_EQ(flag_value.error().str(), "--json takes no value");
  // "-" alone is a positional (stdin), not an option.
  auto dash = Options::Parse({"-"}, kSpecs);
  ASSERT_TRUE(dash.ok());
  EXPECT_EQ(dash->positional(), (std::vector<std::string>{"-"}));
}

}  // namespace
}  // namespace initos
