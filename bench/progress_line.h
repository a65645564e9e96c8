#pragma once
// The live progress line on stderr: one per second, rewritten in place
// ('\r') on a terminal and one line each otherwise, so that logs of a run
// stay readable.
#include "bench/op_stats.h"

namespace kvraft::bench {

class ProgressLine {
 public:
  ProgressLine();
  // `row` is the last second; `open` adds its count of late operations.
  void Print(const SecondStats& row, bool open);
  // Ends an in-place line so that what follows starts on a line of its own.
  void Finish();

 private:
  bool terminal_;
  bool pending_ = false;
};

}  // namespace kvraft::bench
