#include "raftlog/memory_storage.h"

#include <algorithm>

namespace kvraft::raft {

MemoryStorage::MemoryStorage() = default;

Status MemoryStorage::Term(uint64_t index, uint64_t* term) const {
  const uint64_t snap = snapshot_.lastIncludedIndex;
  if (index == snap) {
    *term = snapshot_.lastIncludedTerm;
    return Status::Ok();
  }
  if (index < snap) return Status::Compacted("index " + std::to_string(index) + " is below the snapshot");
  if (index > LastIndex()) return Status::Unavailable("index " + std::to_string(index) + " is past the log");
  *term = entries_[index - snap - 1].term;
  return Status::Ok();
}

Status MemoryStorage::Entries(uint64_t lo, uint64_t hi, uint64_t maxBytes,
                              std::vector<Entry>* out) const {
  if (lo < FirstIndex()) return Status::Compacted("entry " + std::to_string(lo) + " is below the snapshot");
  if (hi > LastIndex() + 1) return Status::Unavailable("entries past the log were asked for");
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - FirstIndex()];
    bytes += e.data.size() + 16;
    if (!out->empty() && bytes > maxBytes) break;
    out->push_back(e);
    if (bytes > maxBytes) break;
  }
  return Status::Ok();
}

Status MemoryStorage::Save(const HardState* hardState, const std::vector<Entry>& entries) {
  if (!entries.empty()) {
    const uint64_t first = entries.front().index;
    if (first < FirstIndex()) return Status::InvalidArgument("entries overlap the snapshot");
    if (first > LastIndex() + 1) return Status::InvalidArgument("entries leave a hole in the log");
    entries_.resize(first - FirstIndex());
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
  if (hardState != nullptr) hardState_ = *hardState;
  return Status::Ok();
}

Status MemoryStorage::InstallSnapshot(const SnapshotMeta& meta) {
  snapshot_ = meta;
  entries_.clear();
  hardState_.commitIndex = std::max(hardState_.commitIndex, meta.lastIncludedIndex);
  return Status::Ok();
}

Status MemoryStorage::CreateSnapshot(const SnapshotMeta& meta) {
  const uint64_t index = meta.lastIncludedIndex;
  if (index <= snapshot_.lastIncludedIndex) return Status::Ok();  // older than what we have
  if (index > LastIndex()) return Status::InvalidArgument("snapshot past the end of the log");
  entries_.erase(entries_.begin(), entries_.begin() + (index - snapshot_.lastIncludedIndex));
  snapshot_ = meta;
  return Status::Ok();
}

}  // namespace kvraft::raft
