#include "raftlog/raft_log.h"

#include <glog/logging.h>

#include <algorithm>

namespace kvraft::raft {

namespace {

// Compacted and Unavailable are answers the protocol acts on (send a
// snapshot, probe further back). Anything else (a checksum mismatch, an I/O
// error) means this node's durable state cannot be trusted: it stops with
// the store's message rather than let damaged data steer the protocol
// (DESIGN.md: a corrupt entry is never silently skipped).
void StopOnStorageFailure(const Status& s, const char* what) {
  if (s.ok() || s.code() == Status::Code::kCompacted || s.code() == Status::Code::kUnavailable) {
    return;
  }
  LOG(FATAL) << "raft log storage failed while reading " << what << ": " << s.ToString();
}

}  // namespace

RaftLog::RaftLog(const Storage* storage) : storage_(storage) {
  unstableOffset_ = storage_->LastIndex() + 1;
  handedUpTo_ = unstableOffset_ - 1;
  const uint64_t snapIndex = storage_->Snapshot().lastIncludedIndex;
  committed_ = std::max(storage_->InitialHardState().commitIndex, snapIndex);
  committed_ = std::min(committed_, LastIndex());
  applied_ = snapIndex;
}

uint64_t RaftLog::FirstIndex() const {
  if (pendingSnapshot_) return pendingSnapshot_->lastIncludedIndex + 1;
  return std::min(storage_->FirstIndex(), unstableOffset_);
}

std::optional<uint64_t> RaftLog::Term(uint64_t index) const {
  if (index >= unstableOffset_) {
    if (index > LastIndex()) return std::nullopt;
    return unstable_[index - unstableOffset_].term;
  }
  if (pendingSnapshot_) {
    if (index == pendingSnapshot_->lastIncludedIndex) return pendingSnapshot_->lastIncludedTerm;
    return std::nullopt;
  }
  uint64_t term = 0;
  const Status s = storage_->Term(index, &term);
  StopOnStorageFailure(s, "a term");
  if (!s.ok()) return std::nullopt;
  return term;
}

bool RaftLog::MatchTerm(uint64_t index, uint64_t term) const {
  auto t = Term(index);
  return t.has_value() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t lastIndex, uint64_t lastTerm) const {
  const uint64_t ourTerm = LastTerm();
  return lastTerm > ourTerm || (lastTerm == ourTerm && lastIndex >= LastIndex());
}

Status RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t maxBytes, std::vector<Entry>* out) const {
  if (lo >= hi) return Status::Ok();
  if (lo < FirstIndex()) return Status::Compacted("entry " + std::to_string(lo) + " was compacted");
  if (hi > LastIndex() + 1) return Status::Unavailable("slice past the end of the log");
  if (InStorage(lo)) {
    const uint64_t storageHi = std::min(hi, unstableOffset_);
    Status s = storage_->Entries(lo, storageHi, maxBytes, out);
    StopOnStorageFailure(s, "entries");
    if (!s.ok()) return s;
    if (out->empty() || out->back().index + 1 < storageHi) return Status::Ok();  // byte limit hit
    lo = storageHi;
  }
  uint64_t bytes = 0;
  for (const Entry& e : *out) bytes += e.data.size() + 16;
  for (uint64_t i = std::max(lo, unstableOffset_); i < hi; ++i) {
    const Entry& e = unstable_[i - unstableOffset_];
    bytes += e.data.size() + 16;
    if (!out->empty() && bytes > maxBytes) break;
    out->push_back(e);
  }
  return Status::Ok();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

void RaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t first = entries.front().index;
  // Committed entries are never replaced (Log Matching + Leader Completeness).
  CHECK_GT(first, committed_) << "attempt to overwrite committed entry " << first;
  CHECK_LE(first, LastIndex() + 1) << "append would leave a hole at " << LastIndex() + 1;
  if (first <= unstableOffset_) {
    unstableOffset_ = first;
    unstable_.assign(entries.begin(), entries.end());
  } else {
    unstable_.resize(first - unstableOffset_);
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  }
  handedUpTo_ = std::min(handedUpTo_, first - 1);
}

uint64_t RaftLog::FirstIndexOfTermAt(uint64_t index) const {
  const auto term = Term(index);
  if (!term) return index;
  const uint64_t first = FirstIndex();
  while (index > first && TermOrZero(index - 1) == *term) --index;
  return index;
}

uint64_t RaftLog::LastIndexOfTerm(uint64_t term) const {
  // Down to FirstIndex()-1: the snapshot's last entry has a known term too.
  const uint64_t stop = FirstIndex() - 1;
  for (uint64_t i = LastIndex(); i >= stop && i > 0; --i) {
    const uint64_t t = TermOrZero(i);
    if (t == term) return i;
    if (t < term) break;  // terms never decrease along the log
  }
  return 0;
}

void RaftLog::CommitTo(uint64_t index) {
  if (index <= committed_) return;  // commitIndex never moves back
  CHECK_LE(index, LastIndex()) << "commit past the end of the log";
  committed_ = index;
}

std::vector<Entry> RaftLog::TakeUnhandedEntries() {
  std::vector<Entry> out;
  const uint64_t from = std::max(handedUpTo_ + 1, unstableOffset_);
  for (uint64_t i = from; i <= LastIndex(); ++i) out.push_back(unstable_[i - unstableOffset_]);
  handedUpTo_ = LastIndex();
  return out;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (index < unstableOffset_ || index > LastIndex()) return;
  if (unstable_[index - unstableOffset_].term != term) return;  // replaced meanwhile
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index - unstableOffset_ + 1));
  unstableOffset_ = index + 1;
}

std::vector<Entry> RaftLog::TakeCommittedToHand(uint64_t maxBytes) {
  std::vector<Entry> out;
  if (applied_ >= committed_) return out;
  Status s = Slice(applied_ + 1, committed_ + 1, maxBytes, &out);
  CHECK(s.ok()) << "committed entries unreadable: " << s.ToString();
  if (!out.empty()) applied_ = out.back().index;
  return out;
}

void RaftLog::Restore(const SnapshotMeta& meta) {
  pendingSnapshot_ = meta;
  snapshotHanded_ = false;
  unstable_.clear();
  unstableOffset_ = meta.lastIncludedIndex + 1;
  handedUpTo_ = meta.lastIncludedIndex;
  committed_ = std::max(committed_, meta.lastIncludedIndex);
  applied_ = meta.lastIncludedIndex;
}

void RaftLog::SnapshotInstalled(const SnapshotMeta& meta) {
  if (pendingSnapshot_ && pendingSnapshot_->lastIncludedIndex == meta.lastIncludedIndex) {
    pendingSnapshot_.reset();
    snapshotHanded_ = false;
  }
}

}  // namespace kvraft::raft
