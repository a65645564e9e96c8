#pragma once
// The final summary of a run, as one JSON object for scripts (--json, and
// the source of --csv and --plot) or as text for people, with the same
// figures under the same names.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/run_loop.h"

namespace kvraft::bench {

// How the run was set up, as the summary reports it.
struct RunDescription {
  std::string workload;  // the --workload name ("mix" for --mix)
  std::string mix;       // its operations and weights, e.g. "get:95,put:5"
  bool stale = false;
  int clients = 0;
  bool async = false;    // clients driven by callbacks rather than a thread each
  int conns = 0;         // connections per node the clients share
  int batches = 0;       // batches in flight per node (0: no batching)
  int anotherBatchCap = 8;  // most calls that wait before another batch goes out beside one
  std::string keys;      // key order: uniform, zipfian, sequential, latest
  double zipfTheta = 0;  // zipfian and latest
  uint64_t keySpace = 0;
  uint64_t loadKeys = 0;
  double loadSeconds = 0;
  bool loadReused = false;  // --spawn_dir held these keys from an earlier run's load
  bool readsLoadedKeys = false;  // the workload reads (or deletes) the loaded keys
  size_t keySize = 0;
  size_t valueSize = 0;
  std::optional<int64_t> rangeLimit;  // when the mix has ranges
  bool rangeLengthUniform = false;
  double rate = 0;                 // ops/s of the open loop; 0: closed loop
  double lateThresholdMs = 0;
  uint64_t opsTarget = 0;          // --ops; 0: by duration
  double warmupSeconds = 0;
  uint64_t seed = 0;
  bool spawned = false;
  int serverNodes = 3;
  // Servers' utime + stime over the measured window, when kvbench spawned them.
  std::optional<double> serverCpuSeconds;
};

nlohmann::json SummaryJson(const RunDescription& run, const RunResult& result);
std::string SummaryText(const nlohmann::json& summary);

// The latency of `h` at percentiles from 0 to 1 - 1/Count(), spaced evenly
// in log(1 / (1 - q)) so that the tail gets as many points as the body:
// [{"percentile": 99.9, "ms": 4.2}, ...].
nlohmann::json LatencyByPercentile(const LatencyHistogram& h);

}  // namespace kvraft::bench
