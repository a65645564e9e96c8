#pragma once
// The run: N clients take operations from an OpPlan (closed or open loop)
// and issue them through one shared client, each from a thread of its own
// or, in the closed loop with `async`, each from the callback of its last
// call. Each thread records into
// tallies of its own; a reporter thread collects them once a second for the
// progress line and the time series, and merges them at the end.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "bench/key_chooser.h"
#include "bench/op_mix.h"
#include "bench/op_plan.h"
#include "bench/op_stats.h"
#include "bench/workload.h"
#include "core/kv_client.h"

namespace kvraft::bench {

struct RunOptions {
  OpPlan::Options plan;
  int clients = 1;
  // Closed loop: the clients make the client library's asynchronous calls
  // (Workload::AsyncCan must hold) instead of a thread each.
  bool async = false;
  // Open loop: an operation issued more than this after its intended start
  // counts as late.
  Clock::duration lateThreshold = std::chrono::milliseconds(1);
  uint64_t seed = 1;  // each client's choices derive from it and its number
  // Called once, from the reporter thread, when the measured window begins
  // and when it ends (for the servers' CPU time).
  std::function<void()> onMeasureStart;
  std::function<void()> onMeasureEnd;
  // Set from elsewhere (a signal handler) to end the run early.
  const std::atomic<bool>* stop = nullptr;
};

struct RunResult {
  std::array<std::optional<OpStats>, kOpKindCount> byOp;  // the kinds that ran
  OpStats total;                                          // all of them merged
  double seconds = 0;    // the measured window's length
  uint64_t late = 0;     // open loop: measured operations issued late
  double maxLagSeconds = 0;  // open loop: the latest a measured operation was issued
  std::vector<SecondStats> timeSeries;
};

RunResult Run(const RunOptions& options, const WorkloadOptions& workload, KeySpace& keys,
              client::KvClient& client);

}  // namespace kvraft::bench
