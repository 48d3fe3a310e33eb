#include <iostream>

#include "node/cli.h"

int main(int argc, char** argv) { return concord::node::RunCli(argc, argv, std::cout, std::cerr); }
