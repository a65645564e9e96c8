#pragma once
// What a leader knows about one follower's log (Figure 2 "volatile state on
// leaders": nextIndex, matchIndex) and how it paces sending to it.
#include <cstdint>
#include <deque>

#include "raftlog/types.h"

namespace kvraft::raft {

enum class ProgressState : uint8_t {
  kProbe,      // next is a guess: one AppendEntries at a time until one succeeds
  kReplicate,  // next is right: stream entries, up to maxInflight messages unacknowledged
  kSnapshot,   // the entries the follower needs are compacted: send the snapshot in chunks
};
const char* ProgressStateName(ProgressState s);

struct Progress {
  uint64_t matchIndex = 0;  // highest index known to be replicated on the follower
  uint64_t nextIndex = 1;   // index of the next entry to send
  ProgressState state = ProgressState::kProbe;
  bool probeSent = false;            // Probe: an AppendEntries is outstanding
  std::deque<uint64_t> inflight;     // Replicate: last index of each unacknowledged message
  bool recentActive = false;         // answered since the last check-quorum (§6.2)
  bool progressSinceHeartbeat = false;  // acked anything since the last heartbeat
  bool inflightAtHeartbeat = false;     // had unacknowledged messages at the last heartbeat
  uint64_t readRoundAcked = 0;       // highest ReadIndex round the follower has answered
  // Snapshot state: which snapshot is being sent, and how much of it was acknowledged.
  uint64_t snapshotIndex = 0;
  uint64_t snapshotOffset = 0;

  // Raises matchIndex (and nextIndex with it); false if `index` is not new.
  bool MaybeUpdate(uint64_t index);
  void BecomeProbe(uint64_t next);
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshotIndex);
  void FreeInflightTo(uint64_t index);
  bool IsPaused(size_t maxInflight) const;
};

}  // namespace kvraft::raft
