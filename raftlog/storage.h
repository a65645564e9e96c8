#pragma once
// The durable state of one node: log, hard state and snapshot metadata.
// The snapshot's bytes are the application's (snapshot_source.h).
// The core only reads through this interface; the node writes through it
// after each Ready, so an implementation (in memory for the simulator,
// RocksDB for kvd) plugs in without changing the core.
//
// Threads: the interface itself promises nothing. MemoryStorage is for one
// thread. RocksDbStorage allows one writer (the node's log writer) beside
// any number of readers (the Raft loop), so a write's fsync never blocks
// the core.
#include <cstdint>
#include <string>
#include <vector>

#include "raftlog/status.h"
#include "raftlog/types.h"

namespace kvraft::raft {

class Storage {
 public:
  virtual ~Storage() = default;

  // --- reads (used by the core) ---
  // The hard state as last saved (at open: the one the core starts from).
  virtual HardState InitialHardState() const = 0;
  virtual SnapshotMeta Snapshot() const = 0;
  // Index of the first entry still in the log: Snapshot().lastIncludedIndex + 1.
  virtual uint64_t FirstIndex() const = 0;
  // Index of the last entry; FirstIndex() - 1 when the log is empty.
  virtual uint64_t LastIndex() const = 0;
  // Term of the entry at `index`, for index in [FirstIndex()-1, LastIndex()].
  virtual Status Term(uint64_t index, uint64_t* term) const = 0;
  // Entries [lo, hi), stopping once `maxBytes` is exceeded but always
  // returning at least one entry when lo < hi.
  virtual Status Entries(uint64_t lo, uint64_t hi, uint64_t maxBytes,
                         std::vector<Entry>* out) const = 0;

  // --- writes (used by the node, never by the core) ---
  // Atomically: set the hard state (if given) and write `entries`, which
  // replace every stored entry at or after entries.front().index.
  virtual Status Save(const HardState* hardState, const std::vector<Entry>& entries) = 0;
  // Replace the whole log by a snapshot received from the leader, once the
  // application has durably installed the snapshot's state.
  virtual Status InstallSnapshot(const SnapshotMeta& meta) = 0;
  // The application holds a durable snapshot of its state at
  // meta.lastIncludedIndex: record it, and discard the entries it covers.
  virtual Status CreateSnapshot(const SnapshotMeta& meta) = 0;
};

}  // namespace kvraft::raft
