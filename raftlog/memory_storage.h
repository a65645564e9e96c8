#pragma once
// Storage kept in memory: used by tests and the simulator. What it holds
// counts as durable; the simulator models the write delay outside it.
#include "raftlog/storage.h"

namespace kvraft::raft {

class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  HardState InitialHardState() const override { return hardState_; }
  SnapshotMeta Snapshot() const override { return snapshot_; }
  uint64_t FirstIndex() const override { return snapshot_.lastIncludedIndex + 1; }
  uint64_t LastIndex() const override { return snapshot_.lastIncludedIndex + entries_.size(); }
  Status Term(uint64_t index, uint64_t* term) const override;
  Status Entries(uint64_t lo, uint64_t hi, uint64_t maxBytes,
                 std::vector<Entry>* out) const override;

  Status Save(const HardState* hardState, const std::vector<Entry>& entries) override;
  Status InstallSnapshot(const SnapshotMeta& meta) override;
  Status CreateSnapshot(const SnapshotMeta& meta) override;

  // For tests: set the configuration of a fresh cluster.
  void Bootstrap(std::vector<NodeId> voters) { snapshot_.voters = std::move(voters); }

 private:
  HardState hardState_;
  SnapshotMeta snapshot_;
  std::vector<Entry> entries_;  // entries_[i].index == snapshot_.lastIncludedIndex + 1 + i
};

}  // namespace kvraft::raft
