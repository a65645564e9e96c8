#include "bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

#include <glog/logging.h>

namespace kvraft::bench {

LatencyHistogram::LatencyHistogram(double relativeError)
    : relativeError_(relativeError),
      gamma_((1 + relativeError) / (1 - relativeError)),
      logGamma_(std::log(gamma_)) {
  CHECK(relativeError > 0 && relativeError < 1) << "relative error " << relativeError;
  minIndex_ = static_cast<int64_t>(std::ceil(std::log(kMinSeconds) / logGamma_));
  const auto maxIndex = static_cast<int64_t>(std::ceil(std::log(kMaxSeconds) / logGamma_));
  buckets_.assign(static_cast<size_t>(maxIndex - minIndex_ + 1), 0);
}

size_t LatencyHistogram::BucketOf(double seconds) const {
  seconds = std::clamp(seconds, kMinSeconds, kMaxSeconds);
  const auto index = static_cast<int64_t>(std::ceil(std::log(seconds) / logGamma_));
  // Rounding in log() can put the range's ends one bucket outside it.
  return static_cast<size_t>(std::clamp<int64_t>(index - minIndex_, 0,
                                                 static_cast<int64_t>(buckets_.size()) - 1));
}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  const int64_t nanos = std::max<int64_t>(latency.count(), 0);
  const double seconds = static_cast<double>(nanos) * 1e-9;
  ++buckets_[BucketOf(seconds)];
  if (count_ == 0 || nanos < minNanos_) minNanos_ = nanos;
  if (count_ == 0 || nanos > maxNanos_) maxNanos_ = nanos;
  ++count_;
  sumSeconds_ += seconds;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  CHECK_EQ(buckets_.size(), other.buckets_.size()) << "histograms of different precision";
  if (other.count_ == 0) return;
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0 || other.minNanos_ < minNanos_) minNanos_ = other.minNanos_;
  if (count_ == 0 || other.maxNanos_ > maxNanos_) maxNanos_ = other.maxNanos_;
  count_ += other.count_;
  sumSeconds_ += other.sumSeconds_;
}

void LatencyHistogram::Reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  sumSeconds_ = 0;
  minNanos_ = maxNanos_ = 0;
}

double LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  size_t i = 0;
  for (; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) break;
  }
  const double upper = std::exp(static_cast<double>(static_cast<int64_t>(i) + minIndex_) * logGamma_);
  const double value = 2 * upper / (gamma_ + 1);
  return std::clamp(value, Min(), Max());
}

double LatencyHistogram::Min() const { return static_cast<double>(minNanos_) * 1e-9; }
double LatencyHistogram::Max() const { return static_cast<double>(maxNanos_) * 1e-9; }
double LatencyHistogram::Mean() const { return count_ == 0 ? 0 : sumSeconds_ / count_; }

}  // namespace kvraft::bench
