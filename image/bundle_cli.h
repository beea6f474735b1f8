// `initos image keygen|build|verify|info`: the signed-bundle subcommands. Each
// takes the arguments after its own name and returns the exit status
// (0 ok, 1 check failed / operation failed, 2 usage error).
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace image {

int ImageKeygenMain(const std::vector<std::string>& args);
int ImageBuildMain(const std::vector<std::string>& args);
int ImageVerifyMain(const std::vector<std::string>& args);
int ImageInfoMain(const std::vector<std::string>& args);

// JSON string literal with quotes, escaping per RFC 8259.
std::string JsonQuote(const std::string& s);

}  // namespace image
}  // namespace initos
