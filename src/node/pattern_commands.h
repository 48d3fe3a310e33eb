// concord/node/pattern_commands.h — `concord pattern validate|match`.
#pragma once

#include <iosfwd>
#include <string>

namespace concord::node {

struct PatternArgs {
  std::string pattern;
  std::string file;  // match: a bundle with observed-data and the SCOs they reference
};

// Prints "valid" (exit 0) or the error with its offset and a caret under the pattern (exit 1).
int RunPatternValidate(const PatternArgs& args, bool json, std::ostream& out, std::ostream& err);
// Prints whether the pattern matched and which observed-data objects it matched (exit 0 match, 1 no match).
int RunPatternMatch(const PatternArgs& args, bool json, std::ostream& out, std::ostream& err);

}  // namespace concord::node
