#pragma once
// One node's application as the simulated cluster drives it: the state
// machine that committed entries feed, its snapshots, and what of it
// survives a crash. HashApp (a running hash, cheap) is the default; KvApp
// runs the real kv state machine through core::KvReplica.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raftlog/snapshot_source.h"
#include "raftlog/status.h"
#include "raftlog/storage.h"
#include "raftlog/types.h"

namespace kvraft::sim {

// What applying one entry produced.
struct AppliedEntry {
  std::string reply;       // the application's answer (KvApp: an encoded Reply)
  uint64_t stateHash = 0;  // a digest of the state after it, equal on every replica (0: none kept)
};

// A snapshot from the leader that replaced the state.
struct RestoredSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  uint64_t stateHash = 0;
};

class SimApp {
 public:
  virtual ~SimApp() = default;
  // Starts from what is durable (at first: nothing), bringing `log` into
  // agreement with it; `log` stays valid until Crash().
  virtual Status Start(raft::Storage* log) = 0;
  // Loses everything that is not durable.
  virtual void Crash() = 0;
  virtual const raft::SnapshotSource& snapshots() const = 0;

  // Ready step 2, before its entries are saved: stage the snapshot chunks
  // and install the snapshot, if any (into the log as well).
  virtual Status InstallFromReady(const raft::Ready& ready,
                                  std::optional<RestoredSnapshot>* restored) = 0;
  // Ready step 4: `entries` continue appliedIndex() without a gap.
  virtual Status Apply(const std::vector<raft::Entry>& entries, std::vector<AppliedEntry>* out) = 0;
  // After the Ready: take a snapshot and compact the log if one is due (an
  // app may do the two on different calls); *index is the index the log was
  // compacted through by this call, 0 if it was not.
  virtual Status MaybeSnapshot(const std::vector<raft::NodeId>& voters, uint64_t* index) = 0;

  virtual uint64_t appliedIndex() const = 0;
  virtual uint64_t stateHash() const = 0;
};

}  // namespace kvraft::sim
