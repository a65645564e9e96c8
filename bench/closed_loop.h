#pragma once
// The closed loop: N client threads, each issuing its next call as soon as
// the previous one returns, for a warmup and then a measured window. Each
// thread records into histograms of its own; a reporter thread collects
// them once a second for the progress line and merges them at the end.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "bench/latency_histogram.h"
#include "bench/workload.h"
#include "core/kv_client.h"

namespace kvraft::bench {

// Counts per client::Code, indexed by the enum's value.
constexpr size_t kCodeCount = static_cast<size_t>(client::Code::kUnavailable) + 1;
using CodeCounts = std::array<uint64_t, kCodeCount>;

struct ClosedLoopOptions {
  int clients = 1;
  std::chrono::seconds warmup{2};
  std::chrono::seconds duration{10};
  // Called once, when the measured window begins and when it ends (for
  // the servers' CPU time), from the reporter thread.
  std::function<void()> onMeasureStart;
  std::function<void()> onMeasureEnd;
  // Set from elsewhere (a signal handler) to end the run early; the window
  // then ends at that moment.
  const std::atomic<bool>* stop = nullptr;
};

struct ClosedLoopResult {
  LatencyHistogram latency;  // successful calls in the measured window
  uint64_t ok = 0;
  CodeCounts errors{};       // failed calls in the measured window, by code
  double seconds = 0;        // length of the measured window
};

ClosedLoopResult RunClosedLoop(const ClosedLoopOptions& options, const WorkloadOptions& workload,
                               client::KvClient& client);

}  // namespace kvraft::bench
