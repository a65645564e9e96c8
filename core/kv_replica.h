#pragma once
// KvReplica: the durable application side of one node, in <data_dir>: the
// kv state machine (<data_dir>/kv) and its latest snapshot
// (<data_dir>/snapshots), kept in agreement with the node's Raft log store.
// It carries out the steps of a Ready that touch them (types.h): staging and
// installing a snapshot from the leader, applying committed entries, and
// taking snapshots to compact the log. kvd and the simulator both drive it,
// so the simulator checks the code kvd runs.
//
// The order of durable writes is what makes every crash recoverable:
//   compaction: checkpoint the kv state at applied index A, then compact
//               the log through A (A is durable in the kv instance first);
//   install:    swap the received state into the kv instance, checkpoint
//               it, then replace the log by the snapshot's metadata.
// Open() finishes what a crash between those steps left (see Reconcile).
//
// Threads: one thread drives it (the node's loop); Checkpoint() may run on
// another, and snapshots() may be read from any.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "raftlog/snapshot_source.h"
#include "raftlog/status.h"
#include "raftlog/storage.h"
#include "raftlog/types.h"
#include "statemachine/kv_state_machine.h"
#include "statemachine/snapshot_store.h"

namespace kvraft::core {

class KvReplica {
 public:
  struct Options {
    std::string dataDir;
    // Everything but `dir`, which is <dataDir>/kv.
    statemachine::KvStateMachine::Options kv;
    // Take a snapshot and compact the log once the applied entries past the
    // last snapshot number this many, or carry this many command bytes
    // (0: no limit of that kind; both 0: never).
    uint64_t snapshotEntries = 0;
    uint64_t snapshotBytes = 0;
  };

  // Opens the kv instance and the snapshot directory and brings `log` into
  // agreement with them. `log` must outlive the replica.
  static Status Open(const Options& options, raft::Storage* log, std::unique_ptr<KvReplica>* out);

  statemachine::KvStateMachine& kv() { return *kv_; }
  const statemachine::KvStateMachine& kv() const { return *kv_; }
  const raft::SnapshotSource& snapshots() const { return *snapshots_; }
  std::optional<statemachine::SnapshotInfo> LatestSnapshot() const { return snapshots_->Latest(); }

  // Ready step 2, before the Ready's entries are saved: stages
  // ready.snapshotChunks into the kv instance and, with ready.snapshot,
  // completes the install (kv state, snapshot, then the log). A non-OK
  // status means the node must stop: a restart recovers from whatever is
  // on disk.
  Status InstallFromReady(const raft::Ready& ready);

  // Ready step 4: applies `committed` in one batch; (*replies)[i] answers
  // committed[i] (kSkipped for entries applied before). A non-OK status
  // means the node must stop (KvStateMachine::ApplyBatch).
  Status Apply(std::span<const raft::Entry> committed, std::vector<statemachine::Reply>* replies);

  // A snapshot is two steps, so that the checkpoint (a flush of the kv
  // memtables and hard links, tens of milliseconds) can run on a thread of
  // its own while the driving thread goes on applying:
  //   SnapshotDue()   the configured limits are reached (driving thread);
  //   Checkpoint()    makes the latest snapshot of the kv state at whatever
  //                   index it has reached (any thread, concurrently with
  //                   Apply and installs);
  //   CompactLog()    compacts the log through that snapshot (driving thread).
  // Until the log is compacted, the previous snapshot index stays in the
  // log's metadata; a crash in between is finished by Open (Reconcile).
  bool SnapshotDue() const;
  Status Checkpoint(statemachine::SnapshotInfo* info);
  enum class Compaction {
    kDone,        // the log now starts after the snapshot
    kSuperseded,  // the log is already compacted as far or further (an install)
    kNotYet,      // the snapshot is past the log's durable end: try again later
  };
  Status CompactLog(const statemachine::SnapshotInfo& info, const std::vector<raft::NodeId>& voters,
                    Compaction* outcome);

  // The three steps at once, on the driving thread, when the limits are
  // reached. *took says whether the log was compacted.
  Status MaybeSnapshot(const std::vector<raft::NodeId>& voters, bool* took);
  // True once per snapshot interval, when three quarters of a snapshot
  // limit are reached. Flushing the kv memtables then (kv().Flush(), on
  // another thread while applies go on) leaves the snapshot's own flush
  // only the last quarter to write.
  bool FlushAheadDue();
  // Takes a snapshot at the applied index and compacts the log through it,
  // now. Does nothing while the applied index is past the log's durable end
  // (a leader may apply entries a quorum of followers hold before its own
  // write completes).
  Status Snapshot(const std::vector<raft::NodeId>& voters);

 private:
  KvReplica(const Options& options, raft::Storage* log) : options_(options), log_(log) {}
  Status Reconcile();
  Status ReplaceLog(const statemachine::SnapshotInfo& info, const std::vector<raft::NodeId>& voters);

  const Options options_;
  raft::Storage* const log_;
  std::unique_ptr<statemachine::KvStateMachine> kv_;
  std::unique_ptr<statemachine::SnapshotStore> snapshots_;
  // Command bytes applied since the last compaction (counted from Open).
  uint64_t bytesSinceSnapshot_ = 0;
  // The log's snapshot index when FlushAheadDue last said true.
  std::optional<uint64_t> flushedAheadAt_;
};

}  // namespace kvraft::core
