#pragma once
// What a run measured: per operation kind, the latencies of the answered
// operations and the count of each answer and error code; and a row per
// second of the run for the time series.
#include <array>
#include <cstdint>

#include "bench/latency_histogram.h"
#include "core/kv_client.h"

namespace kvraft::bench {

// Counts per client::Code, indexed by the enum's value.
constexpr size_t kCodeCount = static_cast<size_t>(client::Code::kUnavailable) + 1;
using CodeCounts = std::array<uint64_t, kCodeCount>;

struct OpStats {
  LatencyHistogram latency;  // answered operations (see IsAnswer)
  CodeCounts answers{};      // kOk, and CAS_FAILED or NOT_FOUND where they are answers
  CodeCounts errors{};       // every other code

  void Merge(const OpStats& other);
  uint64_t Answered() const;
  uint64_t Errors() const;
};

// One interval of the progress line: normally a second, the last one
// shorter if the run ended within it.
struct SecondStats {
  int second = 0;        // 1, 2, ... from the run's start (warm-up included)
  double elapsed = 0;    // seconds from the start to the interval's end
  double span = 0;       // the interval's length in seconds
  bool warmup = false;   // the interval ended by the measured window's start
  uint64_t ops = 0;      // answered operations that returned in the interval
  uint64_t errors = 0;
  uint64_t late = 0;     // open loop: operations issued late in the interval
  // Seconds, of the interval's answered operations; 0 when there were none.
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;

  double OpsPerSecond() const { return span > 0 ? static_cast<double>(ops) / span : 0; }
  // Fills the percentiles from `h`.
  void SetLatency(const LatencyHistogram& h);
};

}  // namespace kvraft::bench
