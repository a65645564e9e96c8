#pragma once
// The core's view of its log: what Storage holds (durable) plus an unstable
// tail that has been appended but not yet written, and a snapshot received
// from the leader that is not yet installed. It also tracks commitIndex and
// how far committed entries have been handed out for applying.
#include <cstdint>
#include <optional>
#include <vector>

#include "raftlog/storage.h"

namespace kvraft::raft {

class RaftLog {
 public:
  explicit RaftLog(const Storage* storage);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const { return unstableOffset_ + unstable_.size() - 1; }
  uint64_t LastTerm() const { return TermOrZero(LastIndex()); }
  // Term of the entry at `index`; empty if compacted or past the end.
  std::optional<uint64_t> Term(uint64_t index) const;
  uint64_t TermOrZero(uint64_t index) const { return Term(index).value_or(0); }
  bool MatchTerm(uint64_t index, uint64_t term) const;
  // §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours?
  bool IsUpToDate(uint64_t lastIndex, uint64_t lastTerm) const;
  // Entries [lo, hi) limited to about maxBytes (at least one entry).
  Status Slice(uint64_t lo, uint64_t hi, uint64_t maxBytes, std::vector<Entry>* out) const;

  // Index of the first entry in `entries` that is not already in the log
  // with the same term, or 0 if all are present (Figure 2, AppendEntries 3-4).
  uint64_t FindConflict(const std::vector<Entry>& entries) const;
  // Replace the log from entries.front().index on by `entries`.
  void Append(const std::vector<Entry>& entries);
  // First index in the log whose term equals the term at `index` (a
  // rejection hint); never below FirstIndex().
  uint64_t FirstIndexOfTermAt(uint64_t index) const;
  // Last index holding `term` (the snapshot's last index counts), or 0 if
  // the log has none.
  uint64_t LastIndexOfTerm(uint64_t term) const;

  uint64_t committed() const { return committed_; }
  void CommitTo(uint64_t index);
  uint64_t applied() const { return applied_; }
  // Everything below this index is durable in Storage.
  uint64_t DurableIndex() const { return unstableOffset_ - 1; }

  // --- Ready bookkeeping ---
  bool HasUnhandedEntries() const { return handedUpTo_ < LastIndex(); }
  std::vector<Entry> TakeUnhandedEntries();
  void StableTo(uint64_t index, uint64_t term);
  bool HasCommittedToHand() const { return applied_ < committed_; }
  std::vector<Entry> TakeCommittedToHand(uint64_t maxBytes);

  // A snapshot from the leader replaces the whole log (Figure 13, step 7).
  void Restore(const SnapshotMeta& meta);
  const std::optional<SnapshotMeta>& pendingSnapshot() const { return pendingSnapshot_; }
  bool snapshotHanded() const { return snapshotHanded_; }
  void MarkSnapshotHanded() { snapshotHanded_ = true; }
  void SnapshotInstalled(const SnapshotMeta& meta);

 private:
  bool InStorage(uint64_t index) const { return !pendingSnapshot_ && index < unstableOffset_; }

  const Storage* storage_;
  std::vector<Entry> unstable_;  // unstable_[i].index == unstableOffset_ + i
  uint64_t unstableOffset_ = 1;
  uint64_t handedUpTo_ = 0;      // unstable entries up to here are in a Ready being written
  std::optional<SnapshotMeta> pendingSnapshot_;
  bool snapshotHanded_ = false;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;         // committed entries up to here were handed out to apply
};

}  // namespace kvraft::raft
