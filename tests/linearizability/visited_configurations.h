#pragma once
// The configurations the search has already explored. A configuration is
// (which operations are placed, model state, and one flag that narrows
// the next step; see search.cc); whether the rest of the history can be
// linearized from it depends on nothing else, so reaching it again by
// another order of the same operations can be cut off at once. This cache
// is Lowe's main improvement on Wing & Gong's search (Lowe 2017, "Testing
// for linearizability": the "WGL" algorithm), and the reason the search
// finishes on histories with many concurrent operations.
//
// The placed operations arrive encoded by the caller (linearized_set.h);
// the cache compares encodings exactly, so a hash collision costs time,
// never a wrong answer.
#include <cstdint>
#include <span>
#include <vector>

namespace kvraft::linearizability {

class VisitedConfigurations {
 public:
  // Records the configuration; false when it was recorded before. `hash`
  // must be a function of (encoding, stateId) alone.
  bool Insert(uint64_t hash, uint32_t stateId, std::span<const uint64_t> encoding);

  size_t size() const { return count_; }
  size_t bytes() const;

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  // Open addressing keeps an entry at 24 bytes plus its encoding in the
  // arena; a node-based std::unordered_set would add a heap block each.
  struct Slot {
    uint64_t hash;
    uint64_t offset = kEmpty;  // into arena_: [length, words...]
    uint32_t stateId;
  };

  bool Matches(const Slot& slot, uint64_t hash, uint32_t stateId,
               std::span<const uint64_t> encoding) const;
  void Grow();

  std::vector<Slot> slots_ = std::vector<Slot>(1024);  // size: a power of two
  std::vector<uint64_t> arena_;
  size_t count_ = 0;
};

}  // namespace kvraft::linearizability
