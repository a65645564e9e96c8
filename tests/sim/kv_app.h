#pragma once
// The real kv state machine on the simulator: core::KvReplica over a
// RocksDB instance in a directory of the node's own, driven by the
// simulated cluster like any SimApp. Its state digests are compared across
// replicas wherever two must agree: every snapshot taken or installed at
// an index, and (KvWorkload) every replica at the end of a run.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/kv_replica.h"
#include "tests/sim/sim_app.h"

namespace kvraft::sim {

// Digests of the kv state at the indexes where some replica took or
// installed a snapshot, shared by a cluster's KvApps.
class DigestBook {
 public:
  // Records `node`'s digest; a description of the disagreement if another
  // node recorded a different digest at the same index, else "".
  std::string Record(int node, const statemachine::StateDigest& digest, const char* when);
  size_t size() const { return byIndex_.size(); }

 private:
  struct Seen {
    statemachine::StateDigest digest;
    int node;
  };
  std::map<uint64_t, Seen> byIndex_;
};

class KvApp : public SimApp {
 public:
  struct Options {
    uint64_t snapshotEntries = 0;  // KvReplica::Options
    uint64_t snapshotBytes = 0;
    uint64_t sessionExpiryMs = 60 * 60 * 1000;
  };
  KvApp(int node, std::string dir, const Options& options, DigestBook* book)
      : node_(node), dir_(std::move(dir)), options_(options), book_(book) {}

  Status Start(raft::Storage* log) override;
  void Crash() override {
    replica_.reset();
    checkpoint_.reset();
  }
  const raft::SnapshotSource& snapshots() const override { return replica_->snapshots(); }
  Status InstallFromReady(const raft::Ready& ready, std::optional<RestoredSnapshot>* restored) override;
  Status Apply(const std::vector<raft::Entry>& entries, std::vector<AppliedEntry>* out) override;
  Status MaybeSnapshot(const std::vector<raft::NodeId>& voters, uint64_t* index) override;
  uint64_t appliedIndex() const override;
  // Replicas are compared by digests (DigestBook), not by a running hash.
  uint64_t stateHash() const override { return 0; }

  // Snapshots installed from a leader, over the node's life.
  uint64_t installs() const { return installs_; }
  // nullptr while the node is down.
  const statemachine::KvStateMachine* kv() const { return replica_ ? &replica_->kv() : nullptr; }

 private:
  Status CheckDigest(const char* when);

  const int node_;
  const std::string dir_;
  const Options options_;
  DigestBook* const book_;
  std::unique_ptr<core::KvReplica> replica_;  // null while down
  uint64_t lastApplied_ = 0;  // what appliedIndex() says while the node is down
  uint64_t installs_ = 0;
  // Taken by the last MaybeSnapshot; the log is compacted through it by a later one.
  std::optional<statemachine::SnapshotInfo> checkpoint_;
};

}  // namespace kvraft::sim
