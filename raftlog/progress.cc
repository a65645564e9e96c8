#include "raftlog/progress.h"

#include <algorithm>

namespace kvraft::raft {

const char* ProgressStateName(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "?";
}

bool Progress::MaybeUpdate(uint64_t index) {
  if (index <= matchIndex) return false;
  matchIndex = index;
  nextIndex = std::max(nextIndex, index + 1);
  progressSinceHeartbeat = true;
  return true;
}

void Progress::BecomeProbe(uint64_t next) {
  state = ProgressState::kProbe;
  nextIndex = std::max(next, matchIndex + 1);
  probeSent = false;
  inflight.clear();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  nextIndex = matchIndex + 1;
  probeSent = false;
  inflight.clear();
}

void Progress::BecomeSnapshot(uint64_t index) {
  state = ProgressState::kSnapshot;
  snapshotIndex = index;
  snapshotOffset = 0;
  probeSent = false;
  inflight.clear();
}

void Progress::FreeInflightTo(uint64_t index) {
  while (!inflight.empty() && inflight.front() <= index) inflight.pop_front();
}

bool Progress::IsPaused(size_t maxInflight) const {
  switch (state) {
    case ProgressState::kProbe: return probeSent;
    case ProgressState::kReplicate: return inflight.size() >= maxInflight;
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

}  // namespace kvraft::raft
