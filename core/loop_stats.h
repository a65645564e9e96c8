#pragma once
// Counters of the node's loop, for the periodic VLOG(1) line that tells
// an operator (or a profile) where a node's time goes: how often the loop
// woke, how many entries each log write carried, and how long the writes
// and applies took.
#include <chrono>
#include <cstdint>
#include <string>

namespace kvraft::core {

class LoopStats {
 public:
  using Clock = std::chrono::steady_clock;

  void Woke() { ++wakeups_; }
  void Proposed(uint64_t n) { proposals_ += n; }
  void Saved(uint64_t entries, bool synced, Clock::duration took);
  void Applied(uint64_t entries, Clock::duration took);

  // A line summarising the counts since the last call, then resets them.
  std::string TakeSummary(Clock::time_point now);

 private:
  static double Micros(Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
  }

  Clock::time_point since_ = Clock::now();
  uint64_t wakeups_ = 0;
  uint64_t proposals_ = 0;
  uint64_t saves_ = 0;
  uint64_t syncedSaves_ = 0;
  uint64_t savedEntries_ = 0;
  Clock::duration saveTime_{};
  Clock::duration maxSave_{};
  uint64_t applies_ = 0;
  uint64_t appliedEntries_ = 0;
  Clock::duration applyTime_{};
};

}  // namespace kvraft::core
