#pragma once
// Runs the kvadmin binary for the tests and parses what it prints.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tests/integration/child_process.h"

namespace kvraft::tools_test {

// kvadmin COMMAND --data_dir=DIR ARGS..., stdout and stderr together.
integration::ProgramResult RunKvadmin(const std::string& command, const std::string& dataDir,
                                      const std::vector<std::string>& args = {});

// The same with --json and stdout alone (stderr dropped, so that a log line
// cannot spoil the document); *exitCode gets the exit code. The parsed
// document, or a discarded value (and a test failure) if it is not JSON.
nlohmann::json RunKvadminJson(const std::string& command, const std::string& dataDir,
                              const std::vector<std::string>& args = {}, int* exitCode = nullptr);

// The lines of `text`.
std::vector<std::string> Lines(const std::string& text);

}  // namespace kvraft::tools_test
