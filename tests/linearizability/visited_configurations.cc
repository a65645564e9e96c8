#include "tests/linearizability/visited_configurations.h"

#include <algorithm>

namespace kvraft::linearizability {

bool VisitedConfigurations::Matches(const Slot& slot, uint64_t hash, uint32_t stateId,
                                    std::span<const uint64_t> encoding) const {
  if (slot.hash != hash || slot.stateId != stateId) return false;
  if (arena_[slot.offset] != encoding.size()) return false;
  return std::equal(encoding.begin(), encoding.end(), arena_.begin() + slot.offset + 1);
}

bool VisitedConfigurations::Insert(uint64_t hash, uint32_t stateId,
                                   std::span<const uint64_t> encoding) {
  // Keep the load at most 1/2 so that probe runs stay short.
  if (2 * (count_ + 1) > slots_.size()) Grow();
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.offset == kEmpty) {
      slot = {hash, arena_.size(), stateId};
      arena_.push_back(encoding.size());
      arena_.insert(arena_.end(), encoding.begin(), encoding.end());
      ++count_;
      return true;
    }
    if (Matches(slot, hash, stateId, encoding)) return false;
  }
}

void VisitedConfigurations::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_ = std::vector<Slot>(old.size() * 2);
  size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.offset == kEmpty) continue;
    size_t i = s.hash & mask;
    while (slots_[i].offset != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

size_t VisitedConfigurations::bytes() const {
  return slots_.capacity() * sizeof(Slot) + arena_.capacity() * sizeof(uint64_t);
}

}  // namespace kvraft::linearizability
