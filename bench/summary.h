#pragma once
// The final summary of a run, as text for people or as one JSON object for
// scripts (the field names are the same in both).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/closed_loop.h"
#include "bench/workload.h"

namespace kvraft::bench {

struct RunDescription {
  std::string workload;  // "put" or "get"
  bool stale = false;
  int clients = 0;
  uint64_t keySpace = 0;
  uint64_t readKeys = 0;
  size_t keySize = 0;
  size_t valueSize = 0;
  bool spawned = false;
  // Servers' utime + stime over the measured window, when kvbench spawned them.
  std::optional<double> serverCpuSeconds;
};

nlohmann::json SummaryJson(const RunDescription& run, const ClosedLoopResult& result);
std::string SummaryText(const nlohmann::json& summary);

}  // namespace kvraft::bench
