#include "tests/sim/hash_app.h"

#include <algorithm>

namespace kvraft::sim {

Status HashApp::Start(raft::Storage* log) {
  log_ = log;
  sm_ = SimStateMachine();
  staged_.clear();
  if (log->Snapshot().lastIncludedIndex != snapshotIndex_) {
    return Status::Corruption("the log's snapshot is at " +
                              std::to_string(log->Snapshot().lastIncludedIndex) +
                              " but the application's at " + std::to_string(snapshotIndex_));
  }
  if (snapshotIndex_ > 0 && !sm_.Decode(snapshotData_)) {
    return Status::Corruption("durable snapshot at " + std::to_string(snapshotIndex_) + " unreadable");
  }
  return Status::Ok();
}

void HashApp::Crash() {
  log_ = nullptr;
  sm_ = SimStateMachine();
  staged_.clear();
}

Status HashApp::ReadSnapshotChunk(uint64_t snapshotIndex, uint64_t offset, uint64_t maxBytes,
                                  std::string* data, bool* last) const {
  if (snapshotIndex != snapshotIndex_) return Status::Aborted("snapshot was replaced");
  if (offset > snapshotData_.size()) return Status::InvalidArgument("snapshot offset past the end");
  const uint64_t n = std::min<uint64_t>(maxBytes, snapshotData_.size() - offset);
  data->assign(snapshotData_, offset, n);
  *last = offset + n == snapshotData_.size();
  return Status::Ok();
}

Status HashApp::InstallFromReady(const raft::Ready& ready, std::optional<RestoredSnapshot>* restored) {
  for (const raft::SnapshotChunk& c : ready.snapshotChunks) {
    if (c.offset == 0) staged_.clear();
    if (c.offset != staged_.size()) return Status::InvalidArgument("snapshot chunk out of order");
    staged_ += c.data;
  }
  if (!ready.snapshot) return Status::Ok();
  SimStateMachine s;
  if (!s.Decode(staged_) || s.appliedIndex != ready.snapshot->lastIncludedIndex) {
    return Status::Corruption("received a damaged snapshot at " +
                              std::to_string(ready.snapshot->lastIncludedIndex));
  }
  Status st = log_->InstallSnapshot(*ready.snapshot);
  if (!st.ok()) return st;
  snapshotIndex_ = s.appliedIndex;
  snapshotData_ = std::move(staged_);
  staged_.clear();
  sm_ = s;
  *restored = RestoredSnapshot{s.appliedIndex, s.appliedTerm, s.hash};
  return Status::Ok();
}

Status HashApp::Apply(const std::vector<raft::Entry>& entries, std::vector<AppliedEntry>* out) {
  out->clear();
  for (const raft::Entry& e : entries) {
    sm_.Apply(e);
    out->push_back({"", sm_.hash});
  }
  return Status::Ok();
}

Status HashApp::MaybeSnapshot(const std::vector<raft::NodeId>& voters, uint64_t* index) {
  *index = 0;
  if (every_ == 0 || sm_.appliedIndex < snapshotIndex_ + every_) return Status::Ok();
  raft::SnapshotMeta meta;
  meta.lastIncludedIndex = sm_.appliedIndex;
  meta.lastIncludedTerm = sm_.appliedTerm;
  meta.voters = voters;
  Status s = log_->CreateSnapshot(meta);
  if (!s.ok()) return s;
  snapshotIndex_ = sm_.appliedIndex;
  snapshotData_ = sm_.Encode(padding_);
  *index = snapshotIndex_;
  return Status::Ok();
}

}  // namespace kvraft::sim
