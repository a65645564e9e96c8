#pragma once
// The live progress line on stderr: one per second, rewritten in place
// ('\r') on a terminal and one line each otherwise, so that logs of a run
// stay readable.
#include <cstdint>

#include "bench/latency_histogram.h"

namespace kvraft::bench {

class ProgressLine {
 public:
  ProgressLine();
  // `second` holds the successful calls of the last second.
  void Print(double elapsedSeconds, bool warmup, const LatencyHistogram& second, uint64_t errors);
  // Ends an in-place line so that what follows starts on a line of its own.
  void Finish();

 private:
  bool terminal_;
  bool pending_ = false;
  double lastElapsed_ = 0;
};

}  // namespace kvraft::bench
