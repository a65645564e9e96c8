#include "bench/progress_line.h"

#include <unistd.h>

#include <cstdio>

namespace kvraft::bench {

ProgressLine::ProgressLine() : terminal_(isatty(STDERR_FILENO) == 1) {}

void ProgressLine::Print(double elapsedSeconds, bool warmup, const LatencyHistogram& second,
                         uint64_t errors) {
  // The last interval may be shorter than a second (the window's end).
  const double span = elapsedSeconds - lastElapsed_;
  lastElapsed_ = elapsedSeconds;
  const double rate = span > 0 ? static_cast<double>(second.Count()) / span : 0;
  std::fprintf(stderr, "%s%6.1fs %-7s %9.0f ops/s  p50 %8.3f ms  p99 %8.3f ms  errors %llu%s",
               terminal_ ? "\r" : "", elapsedSeconds, warmup ? "warmup" : "", rate,
               second.Percentile(0.50) * 1e3, second.Percentile(0.99) * 1e3,
               static_cast<unsigned long long>(errors), terminal_ ? "\033[K" : "\n");
  std::fflush(stderr);
  pending_ = terminal_;
}

void ProgressLine::Finish() {
  if (pending_) std::fputc('\n', stderr);
  pending_ = false;
}

}  // namespace kvraft::bench
