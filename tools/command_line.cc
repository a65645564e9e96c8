#include "tools/command_line.h"

#include <gflags/gflags.h>

#include <optional>
#include <string_view>

namespace kvraft::tools {

bool ParseArgs(int argc, char** argv, std::vector<std::string>* positional, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      positional->insert(positional->end(), argv + i + 1, argv + argc);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional->emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    std::optional<std::string> value;
    if (eq != std::string_view::npos) value = std::string(arg.substr(eq + 1));
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      // --nojson is --json=false.
      if (!value && name.starts_with("no") &&
          gflags::GetCommandLineFlagInfo(name.substr(2).c_str(), &info) && info.type == "bool") {
        continue;
      }
      *error = "unknown flag --" + name;
      return false;
    }
    if (!value) {
      if (info.type == "bool") continue;
      if (i + 1 == argc) {
        *error = "flag --" + name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    // Setting it now only checks it: ParseCommandLineFlags sets the same value.
    if (gflags::SetCommandLineOption(name.c_str(), value->c_str()).empty()) {
      *error = "--" + name + "=" + *value + " is not a valid " + info.type;
      return false;
    }
  }
  return true;
}

bool AsksForHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "-h" || arg == "-help" || arg == "--help" || arg == "-helpshort" ||
        arg == "--helpshort") {
      return true;
    }
  }
  return false;
}

std::vector<std::string> SplitEndpoints(const std::string& list) {
  std::vector<std::string> endpoints;
  size_t from = 0;
  while (from <= list.size()) {
    size_t comma = list.find(',', from);
    if (comma == std::string::npos) comma = list.size();
    std::string e = list.substr(from, comma - from);
    e.erase(0, e.find_first_not_of(" \t"));
    e.erase(e.find_last_not_of(" \t") + 1);
    if (!e.empty()) endpoints.push_back(e);
    from = comma + 1;
  }
  return endpoints;
}

}  // namespace kvraft::tools
