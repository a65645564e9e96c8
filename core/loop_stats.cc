#include "core/loop_stats.h"

#include <algorithm>
#include <cstdio>

namespace kvraft::core {

void LoopStats::Saved(uint64_t entries, bool synced, Clock::duration took) {
  ++saves_;
  if (synced) ++syncedSaves_;
  savedEntries_ += entries;
  saveTime_ += took;
  maxSave_ = std::max(maxSave_, took);
}

void LoopStats::Applied(uint64_t entries, Clock::duration took) {
  ++applies_;
  appliedEntries_ += entries;
  applyTime_ += took;
}

std::string LoopStats::TakeSummary(Clock::time_point now) {
  const double secs = std::max(1e-9, std::chrono::duration<double>(now - since_).count());
  char line[400];
  std::snprintf(line, sizeof line,
                "loop over %.1f s: %.0f wakeups/s, %.0f proposals/s; %llu log writes (%llu synced), "
                "%.1f entries each, %.0f us each on average, %.0f us at most; %llu applies, %.1f "
                "entries each, %.0f us each",
                secs, wakeups_ / secs, proposals_ / secs, static_cast<unsigned long long>(saves_),
                static_cast<unsigned long long>(syncedSaves_),
                saves_ ? static_cast<double>(savedEntries_) / saves_ : 0.0,
                saves_ ? Micros(saveTime_) / saves_ : 0.0, Micros(maxSave_),
                static_cast<unsigned long long>(applies_),
                applies_ ? static_cast<double>(appliedEntries_) / applies_ : 0.0,
                applies_ ? Micros(applyTime_) / applies_ : 0.0);
  *this = LoopStats();
  since_ = now;
  return line;
}

}  // namespace kvraft::core
