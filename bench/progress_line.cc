#include "bench/progress_line.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace kvraft::bench {

ProgressLine::ProgressLine() : terminal_(isatty(STDERR_FILENO) == 1) {}

void ProgressLine::Print(const SecondStats& row, bool open) {
  const std::string late =
      open ? "  late " + std::to_string(static_cast<unsigned long long>(row.late)) : "";
  std::fprintf(stderr, "%s%6.1fs %-7s %9.0f ops/s  p50 %8.3f ms  p99 %8.3f ms  errors %llu%s%s",
               terminal_ ? "\r" : "", row.elapsed, row.warmup ? "warmup" : "", row.OpsPerSecond(),
               row.p50 * 1e3, row.p99 * 1e3, static_cast<unsigned long long>(row.errors),
               late.c_str(), terminal_ ? "\033[K" : "\n");
  std::fflush(stderr);
  pending_ = terminal_;
}

void ProgressLine::Finish() {
  if (pending_) std::fputc('\n', stderr);
  pending_ = false;
}

}  // namespace kvraft::bench
