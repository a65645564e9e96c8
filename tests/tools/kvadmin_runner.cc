#include "tests/tools/kvadmin_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#ifndef KVADMIN_PATH
#error "KVADMIN_PATH must name where the kvadmin binary is built (a compile definition)"
#endif

namespace kvraft::tools_test {

using namespace std::chrono_literals;

integration::ProgramResult RunKvadmin(const std::string& command, const std::string& dataDir,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv = {KVADMIN_PATH, command, "--data_dir=" + dataDir};
  argv.insert(argv.end(), args.begin(), args.end());
  integration::ProgramResult r = integration::RunProgram(argv, {}, 120s);
  EXPECT_FALSE(r.timedOut) << "kvadmin " << command << " did not finish in time";
  return r;
}

nlohmann::json RunKvadminJson(const std::string& command, const std::string& dataDir,
                              const std::vector<std::string>& args, int* exitCode) {
  // sh drops stderr and execs kvadmin with the arguments as given.
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>/dev/null", KVADMIN_PATH,
                                   command, "--data_dir=" + dataDir, "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  integration::ProgramResult r = integration::RunProgram(argv, {}, 120s);
  EXPECT_FALSE(r.timedOut) << "kvadmin " << command << " --json did not finish in time";
  if (exitCode != nullptr) *exitCode = r.exitCode;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "kvadmin " << command << " --json printed no JSON:\n" << r.output;
  return j;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace kvraft::tools_test
