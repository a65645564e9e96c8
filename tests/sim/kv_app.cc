#include "tests/sim/kv_app.h"

namespace kvraft::sim {

std::string DigestBook::Record(int node, const statemachine::StateDigest& digest, const char* when) {
  auto [it, inserted] = byIndex_.emplace(digest.applied.index, Seen{digest, node});
  if (inserted || it->second.digest == digest) return "";
  return "kv state digests differ at index " + std::to_string(digest.applied.index) + ": node " +
         std::to_string(it->second.node) + " had " + it->second.digest.ToString() + ", node " +
         std::to_string(node) + " (" + when + ") has " + digest.ToString();
}

Status KvApp::Start(raft::Storage* log) {
  core::KvReplica::Options o;
  o.dataDir = dir_;
  o.kv.sessionExpiryMs = options_.sessionExpiryMs;
  o.kv.flushOnClose = false;  // Crash() must lose what a crash loses
  o.snapshotEntries = options_.snapshotEntries;
  o.snapshotBytes = options_.snapshotBytes;
  return core::KvReplica::Open(o, log, &replica_);
}

uint64_t KvApp::appliedIndex() const {
  return replica_ ? replica_->kv().AppliedIndex() : lastApplied_;
}

Status KvApp::CheckDigest(const char* when) {
  statemachine::StateDigest d;
  Status s = replica_->kv().Digest(&d);
  if (!s.ok()) return s;
  const std::string disagreement = book_->Record(node_, d, when);
  if (!disagreement.empty()) return Status::Corruption(disagreement);
  return Status::Ok();
}

Status KvApp::InstallFromReady(const raft::Ready& ready, std::optional<RestoredSnapshot>* restored) {
  Status s = replica_->InstallFromReady(ready);
  if (!s.ok() || !ready.snapshot) return s;
  ++installs_;
  s = CheckDigest("installed from the leader");
  if (!s.ok()) return s;
  *restored = RestoredSnapshot{ready.snapshot->lastIncludedIndex, ready.snapshot->lastIncludedTerm, 0};
  return Status::Ok();
}

Status KvApp::Apply(const std::vector<raft::Entry>& entries, std::vector<AppliedEntry>* out) {
  std::vector<statemachine::Reply> replies;
  Status s = replica_->Apply(entries, &replies);
  if (!s.ok()) return s;
  out->clear();
  for (const statemachine::Reply& r : replies) out->push_back({statemachine::EncodeReply(r), 0});
  lastApplied_ = replica_->kv().AppliedIndex();
  return Status::Ok();
}

// kvd checkpoints on a thread beside its loop and compacts the log on the
// loop later; here the two steps are two calls, so Readys (and installs
// from a leader) fall between them as they do in kvd.
Status KvApp::MaybeSnapshot(const std::vector<raft::NodeId>& voters, uint64_t* index) {
  *index = 0;
  if (checkpoint_) {
    core::KvReplica::Compaction outcome = core::KvReplica::Compaction::kNotYet;
    Status s = replica_->CompactLog(*checkpoint_, voters, &outcome);
    if (!s.ok() || outcome == core::KvReplica::Compaction::kNotYet) return s;
    if (outcome == core::KvReplica::Compaction::kDone) *index = checkpoint_->appliedIndex;
    checkpoint_.reset();
    return Status::Ok();
  }
  if (!replica_->SnapshotDue()) return Status::Ok();
  statemachine::SnapshotInfo info;
  Status s = replica_->Checkpoint(&info);
  if (!s.ok()) return s;
  checkpoint_ = info;
  return CheckDigest("snapshot taken");
}

}  // namespace kvraft::sim
