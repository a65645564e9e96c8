#pragma once
// Which peer messages may wait in the loop's inbox instead of waking it.
// At one client the second follower's ack of every command changes nothing
// the leader waits for (the first one committed the entry), yet waking the
// loop for it costs a thread switch and a loop iteration per write. Such a
// message is taken with the loop's next batch of work or its next tick.
#include <cstdint>

#include "raftlog/types.h"

namespace kvraft::core {

// The leader's state a message is judged against; published by the loop.
struct AckWaitState {
  bool leader = false;
  uint64_t term = 0;
  uint64_t lastIndex = 0;
  uint64_t commitIndex = 0;
  bool readRoundPending = false;  // a ReadIndex round counts acks
};

// A follower's success answer from this term that says it holds every
// entry, all of them committed, while no ReadIndex round is open. Anything
// else (a rejection, a newer term, an ack that can advance the commit or
// let more entries go out, votes, snapshots) wakes the loop.
inline bool AckCanWait(const raft::Message& m, const AckWaitState& state) {
  return state.leader && !state.readRoundPending &&
         m.type == raft::MessageType::kAppendEntriesResponse && m.success &&
         m.term == state.term && m.matchIndex == state.lastIndex &&
         m.matchIndex <= state.commitIndex;
}

}  // namespace kvraft::core
