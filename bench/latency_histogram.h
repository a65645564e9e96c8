#pragma once
// LatencyHistogram: latencies from 1 µs to 100 s in logarithmic buckets,
// so that every percentile it reports is within a fixed relative error of
// a sample that was recorded (1% by default), whatever the scale. Each
// bucket i holds the values in (gamma^(i-1), gamma^i] with
// gamma = (1 + e) / (1 - e); reporting 2 * gamma^i / (gamma + 1) for it is
// then off by at most e relative to any value in it.
//
// Not thread-safe: each thread records into its own histogram and a reader
// merges them (Merge), so recording never contends.
#include <chrono>
#include <cstdint>
#include <vector>

namespace kvraft::bench {

class LatencyHistogram {
 public:
  static constexpr double kMinSeconds = 1e-6;
  static constexpr double kMaxSeconds = 100.0;

  explicit LatencyHistogram(double relativeError = 0.01);

  // Values below 1 µs count as 1 µs and values above 100 s as 100 s in the
  // buckets; Max() and Min() remain exact.
  void Record(std::chrono::nanoseconds latency);
  // Adds `other`'s samples; both must have the same relative error.
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t Count() const { return count_; }
  double RelativeError() const { return relativeError_; }
  // In seconds; 0 when empty. Percentile(q) for q in [0, 1] is the value of
  // the sample of rank ceil(q * Count()), within the relative error and
  // clamped to [Min(), Max()] so that percentiles never exceed the maximum.
  double Percentile(double q) const;
  double Min() const;
  double Max() const;
  double Mean() const;

 private:
  size_t BucketOf(double seconds) const;

  double relativeError_;
  double gamma_;
  double logGamma_;
  int64_t minIndex_;  // bucket index of kMinSeconds
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sumSeconds_ = 0;
  int64_t minNanos_ = 0;
  int64_t maxNanos_ = 0;
};

}  // namespace kvraft::bench
