#include "core/kv_replica.h"

#include <glog/logging.h>

namespace kvraft::core {

using statemachine::SnapshotInfo;

namespace {

raft::SnapshotMeta MetaOf(const SnapshotInfo& info, const std::vector<raft::NodeId>& voters) {
  raft::SnapshotMeta meta;
  meta.lastIncludedIndex = info.appliedIndex;
  meta.lastIncludedTerm = info.appliedTerm;
  meta.voters = voters;
  return meta;
}

}  // namespace

Status KvReplica::Open(const Options& options, raft::Storage* log, std::unique_ptr<KvReplica>* out) {
  std::unique_ptr<KvReplica> r(new KvReplica(options, log));
  statemachine::KvStateMachine::Options kvOptions = options.kv;
  kvOptions.dir = options.dataDir + "/kv";
  Status s = statemachine::KvStateMachine::Open(kvOptions, &r->kv_);
  if (s.ok()) s = statemachine::SnapshotStore::Open(options.dataDir + "/snapshots", &r->snapshots_);
  if (s.ok()) s = r->Reconcile();
  if (!s.ok()) return s;
  *out = std::move(r);
  return Status::Ok();
}

// After a crash the three durable parts may stand at different points of
// the two write orders (header comment). Each case below is one such point;
// whatever Open finds, it leaves the log holding the kv state's applied
// entry (or a snapshot of it) and the snapshot store holding the snapshot
// the log's metadata names, which is what a leader streams to followers.
Status KvReplica::Reconcile() {
  const raft::SnapshotMeta logSnap = log_->Snapshot();
  const uint64_t applied = kv_->AppliedIndex();
  if (applied < logSnap.lastIncludedIndex) {
    return Status::Corruption(
        "the kv state in " + options_.dataDir + "/kv is at index " + std::to_string(applied) +
        " but the Raft log was compacted through " + std::to_string(logSnap.lastIncludedIndex) +
        ", so the entries between are gone: the kv instance lost writes it had reported "
        "durable. Remove the node's data directory and let it rejoin the cluster (it receives a "
        "snapshot from the leader)");
  }
  uint64_t term = 0;
  const bool logHoldsApplied = applied <= log_->LastIndex() && log_->Term(applied, &term).ok() &&
                               term == kv_->AppliedTerm();
  if (!logHoldsApplied) {
    // An install swapped the leader's state in, and a crash came before the
    // log was replaced: finish the install.
    SnapshotInfo info;
    Status s = snapshots_->Take(*kv_, &info);
    if (!s.ok()) return s;
    LOG(INFO) << "finishing the install of the snapshot at " << info.appliedIndex
              << " that a restart interrupted";
    return ReplaceLog(info, logSnap.voters);
  }
  std::optional<SnapshotInfo> latest = snapshots_->Latest();
  if (logSnap.lastIncludedIndex > 0 &&
      (!latest || latest->appliedIndex < logSnap.lastIncludedIndex)) {
    // The snapshot the log names is gone (removed by hand, say): make a new one.
    SnapshotInfo info;
    Status s = snapshots_->Take(*kv_, &info);
    if (!s.ok()) return s;
    latest = info;
  }
  if (latest && latest->appliedIndex > logSnap.lastIncludedIndex) {
    // A checkpoint was made and a crash came before the log was compacted.
    return log_->CreateSnapshot(MetaOf(*latest, logSnap.voters))
        .Annotate("compacting the log to the latest snapshot");
  }
  return Status::Ok();
}

Status KvReplica::ReplaceLog(const SnapshotInfo& info, const std::vector<raft::NodeId>& voters) {
  bytesSinceSnapshot_ = 0;
  return log_->InstallSnapshot(MetaOf(info, voters))
      .Annotate("replacing the log by the snapshot at " + std::to_string(info.appliedIndex));
}

Status KvReplica::InstallFromReady(const raft::Ready& ready) {
  // The core hands out the snapshot to install with its last chunk.
  bool completed = false;
  for (const raft::SnapshotChunk& chunk : ready.snapshotChunks) {
    const uint64_t index = chunk.meta.lastIncludedIndex;
    if (chunk.offset == 0 && kv_->AppliedIndex() >= index) {
      // The core asks for a snapshot only past its commit index, and the kv
      // state never runs ahead of that once Open has reconciled the two.
      return Status::Corruption("asked to install the snapshot at " + std::to_string(index) +
                                " over kv state already at " +
                                std::to_string(kv_->AppliedIndex()));
    }
    SnapshotInfo installed;
    Status s = kv_->InstallSnapshotChunk(chunk.offset, chunk.data, chunk.done, &installed);
    if (!s.ok()) {
      return s.Annotate("receiving the snapshot at " + std::to_string(index) + " (offset " +
                        std::to_string(chunk.offset) + ")");
    }
    if (chunk.done && installed.appliedIndex != index) {
      return Status::Corruption("the snapshot announced at index " + std::to_string(index) +
                                " holds state at index " +
                                std::to_string(installed.appliedIndex));
    }
    // Chunks of the leader's next snapshot may follow in the same Ready;
    // they start staging it and do not undo this one.
    if (chunk.done && ready.snapshot && chunk.meta == *ready.snapshot) completed = true;
  }
  if (!ready.snapshot) return Status::Ok();
  const raft::SnapshotMeta& meta = *ready.snapshot;
  if (!completed || kv_->AppliedIndex() != meta.lastIncludedIndex) {
    return Status::Corruption("the snapshot at " + std::to_string(meta.lastIncludedIndex) +
                              " is to be installed, but " +
                              (completed ? "the kv state is at " + std::to_string(kv_->AppliedIndex())
                                         : std::string("its last chunk did not come with it")));
  }
  SnapshotInfo info;
  Status s = snapshots_->Take(*kv_, &info);
  if (!s.ok()) return s.Annotate("keeping the installed snapshot");
  bytesSinceSnapshot_ = 0;
  VLOG(1) << "installed the snapshot at " << meta.lastIncludedIndex;
  return log_->InstallSnapshot(meta).Annotate("replacing the log by the snapshot at " +
                                              std::to_string(meta.lastIncludedIndex));
}

Status KvReplica::Apply(std::span<const raft::Entry> committed,
                        std::vector<statemachine::Reply>* replies) {
  replies->clear();
  if (committed.empty()) return Status::Ok();
  std::vector<statemachine::AppliedCommand> batch;
  batch.reserve(committed.size());
  for (const raft::Entry& e : committed) {
    // A no-op carries no command: the state machine only advances its index.
    batch.push_back({e.index, e.term,
                     e.type == raft::EntryType::kNormal ? std::string_view(e.data) : std::string_view()});
    bytesSinceSnapshot_ += e.data.size();
  }
  return kv_->ApplyBatch(batch, replies);
}

bool KvReplica::SnapshotDue() const {
  const uint64_t applied = kv_->AppliedIndex();
  const uint64_t since = applied - std::min(applied, log_->Snapshot().lastIncludedIndex);
  return (options_.snapshotEntries > 0 && since >= options_.snapshotEntries) ||
         (options_.snapshotBytes > 0 && bytesSinceSnapshot_ >= options_.snapshotBytes);
}

Status KvReplica::Checkpoint(SnapshotInfo* info) {
  return snapshots_->Take(*kv_, info).Annotate("taking a snapshot");
}

Status KvReplica::CompactLog(const SnapshotInfo& info, const std::vector<raft::NodeId>& voters,
                             Compaction* outcome) {
  if (info.appliedIndex <= log_->Snapshot().lastIncludedIndex) {
    *outcome = Compaction::kSuperseded;
    return Status::Ok();
  }
  if (info.appliedIndex > log_->LastIndex()) {
    *outcome = Compaction::kNotYet;
    return Status::Ok();
  }
  *outcome = Compaction::kDone;
  bytesSinceSnapshot_ = 0;
  VLOG(1) << "snapshot at " << info.appliedIndex << "; compacting the log through it";
  return log_->CreateSnapshot(MetaOf(info, voters))
      .Annotate("compacting the log through " + std::to_string(info.appliedIndex));
}

Status KvReplica::MaybeSnapshot(const std::vector<raft::NodeId>& voters, bool* took) {
  *took = false;
  if (!SnapshotDue()) return Status::Ok();
  const uint64_t before = log_->Snapshot().lastIncludedIndex;
  Status s = Snapshot(voters);
  *took = s.ok() && log_->Snapshot().lastIncludedIndex > before;
  return s;
}

bool KvReplica::FlushAheadDue() {
  const uint64_t snapshotAt = log_->Snapshot().lastIncludedIndex;
  if (flushedAheadAt_ == snapshotAt) return false;
  const uint64_t since = kv_->AppliedIndex() - std::min(kv_->AppliedIndex(), snapshotAt);
  const bool due = (options_.snapshotEntries > 0 && since >= options_.snapshotEntries / 4 * 3) ||
                   (options_.snapshotBytes > 0 && bytesSinceSnapshot_ >= options_.snapshotBytes / 4 * 3);
  if (due) flushedAheadAt_ = snapshotAt;
  return due;
}

Status KvReplica::Snapshot(const std::vector<raft::NodeId>& voters) {
  const uint64_t applied = kv_->AppliedIndex();
  if (applied <= log_->Snapshot().lastIncludedIndex || applied > log_->LastIndex()) {
    return Status::Ok();
  }
  SnapshotInfo info;
  Status s = Checkpoint(&info);
  if (!s.ok()) return s;
  Compaction outcome;
  return CompactLog(info, voters, &outcome);
}

}  // namespace kvraft::core
