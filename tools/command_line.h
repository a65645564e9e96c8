#pragma once
// The command-line reading that kvctl and kvadmin share. Both read the
// command line before gflags does, for two reasons: gflags ends the process
// with status 1 on a flag it cannot parse, and 1 is an answer in both tools
// ("not found", "verify found problems"); and gflags moves the arguments it
// does not parse behind those after "--", out of order.
#include <string>
#include <vector>

namespace kvraft::tools {

// Checks every flag against the program's gflags (a bad one is returned in
// *error as a usage error) and collects the other arguments, in order, in
// *positional; everything after "--" is positional.
bool ParseArgs(int argc, char** argv, std::vector<std::string>* positional, std::string* error);

// True if a help flag (-h, --help, --helpshort) comes before any "--".
bool AsksForHelp(int argc, char** argv);

// "a:1, b:2,,c:3" -> {"a:1", "b:2", "c:3"}: blanks trimmed, empty items dropped.
std::vector<std::string> SplitEndpoints(const std::string& list);

}  // namespace kvraft::tools
