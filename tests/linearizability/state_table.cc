#include "tests/linearizability/state_table.h"

#include <string>

namespace kvraft::linearizability {

size_t StateTable::Hash::operator()(const KvState& state) const {
  uint64_t h = state.size();
  for (const Value& v : state) {
    h = MixBits(h ^ (v ? std::hash<std::string>{}(*v) : 0x2545f4914f6cdd1dull));
  }
  return h;
}

uint32_t StateTable::Intern(KvState state) {
  // A map node, the vector and the strings' buffers.
  size_t size = 96 + state.size() * sizeof(Value);
  for (const Value& v : state) size += v ? v->capacity() : 0;
  auto [it, inserted] = ids_.try_emplace(std::move(state), static_cast<uint32_t>(byId_.size()));
  if (inserted) {
    byId_.push_back(&it->first);
    bytes_ += size;
  }
  return it->second;
}

int32_t TransitionMemo::Find(uint32_t state, uint32_t op) const {
  uint64_t key = uint64_t{state} << 32 | op;
  size_t mask = slots_.size() - 1;
  for (size_t i = MixBits(key) & mask;; i = (i + 1) & mask) {
    if (slots_[i].key == key) return slots_[i].after;
    if (slots_[i].key == kEmpty) return kUnknown;
  }
}

void TransitionMemo::Insert(uint32_t state, uint32_t op, int32_t after) {
  // Keep the load at most 1/2 so that probe runs stay short.
  if (2 * (count_ + 1) > slots_.size()) Grow();
  uint64_t key = uint64_t{state} << 32 | op;
  size_t mask = slots_.size() - 1;
  size_t i = MixBits(key) & mask;
  while (slots_[i].key != kEmpty) i = (i + 1) & mask;
  slots_[i] = {key, after};
  ++count_;
}

void TransitionMemo::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  count_ = 0;
  for (const Slot& s : old) {
    if (s.key != kEmpty)
      Insert(static_cast<uint32_t>(s.key >> 32), static_cast<uint32_t>(s.key), s.after);
  }
}

}  // namespace kvraft::linearizability
