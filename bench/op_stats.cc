#include "bench/op_stats.h"

namespace kvraft::bench {

void OpStats::Merge(const OpStats& other) {
  latency.Merge(other.latency);
  for (size_t c = 0; c < kCodeCount; ++c) {
    answers[c] += other.answers[c];
    errors[c] += other.errors[c];
  }
}

uint64_t OpStats::Answered() const {
  uint64_t n = 0;
  for (uint64_t a : answers) n += a;
  return n;
}

uint64_t OpStats::Errors() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void SecondStats::SetLatency(const LatencyHistogram& h) {
  p50 = h.Percentile(0.50);
  p90 = h.Percentile(0.90);
  p99 = h.Percentile(0.99);
  p999 = h.Percentile(0.999);
  max = h.Max();
}

}  // namespace kvraft::bench
