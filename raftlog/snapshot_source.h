#pragma once
// Where a leader reads the bytes of its latest snapshot to send them to a
// follower that is too far behind (§7, Figure 13). The snapshot's bytes
// belong to the application (the kv state machine's checkpoint); the log
// store keeps only its metadata (Storage::Snapshot()), so the two are
// joined here, by index.
#include <cstdint>
#include <string>

#include "raftlog/status.h"

namespace kvraft::raft {

class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Replaces *data by up to `maxBytes` of the snapshot at `snapshotIndex`
  // from `offset`; *last is set when they reach its end. Returns kAborted
  // when that snapshot is no longer the one kept (a newer one replaced it:
  // the core then starts over with Storage::Snapshot()), and another error
  // when the bytes cannot be read.
  virtual Status ReadSnapshotChunk(uint64_t snapshotIndex, uint64_t offset, uint64_t maxBytes,
                                   std::string* data, bool* last) const = 0;
};

}  // namespace kvraft::raft
