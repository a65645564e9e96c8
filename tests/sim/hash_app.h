#pragma once
// The simulator's default application: SimStateMachine's running hash,
// with snapshots of its three numbers plus optional filler bytes so that
// chunked transfer carries something. Its durable snapshot lives in the
// object, which a crash keeps.
#include <cstdint>
#include <string>

#include "tests/sim/sim_app.h"
#include "tests/sim/sim_state_machine.h"

namespace kvraft::sim {

class HashApp : public SimApp, private raft::SnapshotSource {
 public:
  // Snapshot once `snapshotEvery` entries were applied past the last one
  // (0: never), with `padding` filler bytes.
  HashApp(uint64_t snapshotEvery, size_t padding) : every_(snapshotEvery), padding_(padding) {}

  Status Start(raft::Storage* log) override;
  void Crash() override;
  const raft::SnapshotSource& snapshots() const override { return *this; }
  Status InstallFromReady(const raft::Ready& ready, std::optional<RestoredSnapshot>* restored) override;
  Status Apply(const std::vector<raft::Entry>& entries, std::vector<AppliedEntry>* out) override;
  Status MaybeSnapshot(const std::vector<raft::NodeId>& voters, uint64_t* index) override;
  uint64_t appliedIndex() const override { return sm_.appliedIndex; }
  uint64_t stateHash() const override { return sm_.hash; }

 private:
  Status ReadSnapshotChunk(uint64_t snapshotIndex, uint64_t offset, uint64_t maxBytes,
                           std::string* data, bool* last) const override;

  const uint64_t every_;
  const size_t padding_;
  raft::Storage* log_ = nullptr;
  SimStateMachine sm_;    // volatile
  std::string staged_;    // volatile: chunks received so far
  // Durable: the snapshot the log's metadata names, written together with it.
  uint64_t snapshotIndex_ = 0;
  std::string snapshotData_;
};

}  // namespace kvraft::sim
