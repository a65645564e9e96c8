#include "tests/linearizability/linearized_set.h"

#include <algorithm>
#include <bit>

#include "tests/linearizability/state_table.h"

namespace kvraft::linearizability {

LinearizedSet::LinearizedSet(const std::vector<const Operation*>& ops, uint32_t bounded)
    : bounded_(bounded), total_(static_cast<uint32_t>(ops.size())) {
  bits_.assign((ops.size() + 63) / 64, 0);
  for (size_t i = 0; i < ops.size(); ++i) zobrist_.push_back(MixBits(i + 1));
  auto end = ops.begin() + bounded;
  for (uint32_t i = 0; i < bounded; ++i) {
    auto after = std::upper_bound(ops.begin(), end, ops[i]->ret,
                                  [](Time t, const Operation* op) { return t < op->call; });
    windowEndWord_.push_back(static_cast<uint32_t>((after - ops.begin() - 1) / 64));
  }
}

void LinearizedSet::Mark(uint32_t op) {
  bits_[op / 64] |= uint64_t{1} << (op % 64);
  hash_ ^= zobrist_[op];
  if (op != firstOpen_) return;
  // Advance to the next bounded operation not decided, a word at a time.
  uint32_t i = firstOpen_;
  while (i < bounded_) {
    uint64_t open = ~bits_[i / 64] >> (i % 64);
    if (open != 0) {
      i += static_cast<uint32_t>(std::countr_zero(open));
      break;
    }
    i = (i / 64 + 1) * 64;
  }
  firstOpen_ = std::min(i, bounded_);
}

void LinearizedSet::Unmark(uint32_t op) {
  bits_[op / 64] &= ~(uint64_t{1} << (op % 64));
  hash_ ^= zobrist_[op];
  if (op < firstOpen_) firstOpen_ = op;
}

// Let i be the first bounded operation not decided. All bounded operations
// before i are decided. A bounded operation j after i can only be decided
// if it was called no later than i returns: it was placed while i was
// open, so its call came before i's return in the event list (or dropped
// at its own return, which came before i's). So past i only the words up
// to windowEndWord_[i] can hold set bits, and the set is (i, those words,
// the words of the operations without a bound). Its length follows the
// number of operations concurrent with i, not the length of the history.
std::span<const uint64_t> LinearizedSet::Encode() {
  encoding_.clear();
  encoding_.push_back(firstOpen_);
  for (uint32_t w = firstOpen_ / 64; w <= windowEndWord_[firstOpen_]; ++w) {
    encoding_.push_back(bits_[w]);
  }
  if (bounded_ < total_) {
    for (size_t w = bounded_ / 64; w < bits_.size(); ++w) encoding_.push_back(bits_[w]);
  }
  return encoding_;
}

}  // namespace kvraft::linearizability
