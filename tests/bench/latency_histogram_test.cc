// The histogram's percentiles against the exact percentiles of known
// samples: every one must be within the stated relative error.
#include "bench/latency_histogram.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace kvraft::bench {
namespace {

using std::chrono::nanoseconds;

// The sample of rank ceil(q * n), the definition Percentile follows.
double ExactPercentile(std::vector<int64_t> sorted, double q) {
  const auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * sorted.size())));
  return static_cast<double>(sorted[rank - 1]) * 1e-9;
}

void ExpectWithin(const LatencyHistogram& h, const std::vector<int64_t>& sorted, double q) {
  const double exact = ExactPercentile(sorted, q);
  EXPECT_NEAR(h.Percentile(q), exact, exact * h.RelativeError() * 1.0001) << "q=" << q;
}

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Percentile(0.5), 0);
  EXPECT_EQ(h.Max(), 0);
}

TEST(LatencyHistogram, PercentilesOfLogUniformSamplesWithinRelativeError) {
  for (double error : {0.01, 0.05}) {
    LatencyHistogram h(error);
    std::mt19937_64 rng(42);
    // From 2 µs to 50 s: every decade of the range gets samples.
    std::uniform_real_distribution<double> exponent(std::log(2e3), std::log(5e10));
    std::vector<int64_t> samples;
    for (int i = 0; i < 100000; ++i) {
      samples.push_back(static_cast<int64_t>(std::exp(exponent(rng))));
      h.Record(nanoseconds(samples.back()));
    }
    std::sort(samples.begin(), samples.end());
    for (double q : {0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) ExpectWithin(h, samples, q);
    EXPECT_DOUBLE_EQ(h.Max(), samples.back() * 1e-9);
    EXPECT_DOUBLE_EQ(h.Min(), samples.front() * 1e-9);
  }
}

TEST(LatencyHistogram, SmallKnownSet) {
  LatencyHistogram h;
  std::vector<int64_t> samples;
  for (int64_t ms = 1; ms <= 100; ++ms) {
    samples.push_back(ms * 1000000);
    h.Record(nanoseconds(ms * 1000000));
  }
  ExpectWithin(h, samples, 0.5);   // 50 ms
  ExpectWithin(h, samples, 0.9);   // 90 ms
  ExpectWithin(h, samples, 0.99);  // 99 ms
  EXPECT_LE(h.Percentile(0.999), h.Max());
  EXPECT_DOUBLE_EQ(h.Max(), 0.1);
  EXPECT_NEAR(h.Mean(), 0.0505, 1e-9);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram all, a, b;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> nanos(1000, 20000000);
  for (int i = 0; i < 20000; ++i) {
    const nanoseconds v(nanos(rng));
    all.Record(v);
    (i % 3 == 0 ? a : b).Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.Count(), all.Count());
  for (double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_DOUBLE_EQ(a.Percentile(q), all.Percentile(q));
  EXPECT_DOUBLE_EQ(a.Max(), all.Max());
  EXPECT_DOUBLE_EQ(a.Min(), all.Min());
}

TEST(LatencyHistogram, OutOfRangeValuesAreClampedButMaxIsExact) {
  LatencyHistogram h;
  h.Record(nanoseconds(10));                     // below 1 µs
  h.Record(std::chrono::seconds(500));           // above 100 s
  EXPECT_DOUBLE_EQ(h.Max(), 500.0);
  EXPECT_DOUBLE_EQ(h.Min(), 10e-9);
  EXPECT_LE(h.Percentile(0.5), h.Percentile(1.0));
  EXPECT_LE(h.Percentile(1.0), h.Max());
}

TEST(LatencyHistogram, ResetEmpties) {
  LatencyHistogram h;
  h.Record(std::chrono::milliseconds(3));
  h.Reset();
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Percentile(0.99), 0);
}

}  // namespace
}  // namespace kvraft::bench
