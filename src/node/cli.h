// concord/node/cli.h — the `concord` command line.
//
// RunCli parses arguments and runs one command, writing data to `out` and messages to `err`, so that
// tests drive every command in-process. Exit codes: 0 success; 1 the command ran but found problems
// (rejected objects, invalid pattern, no match, object not found); 2 usage or environment errors.
#pragma once

#include <iosfwd>

namespace concord::node {

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace concord::node
