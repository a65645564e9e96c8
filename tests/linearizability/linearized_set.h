#pragma once
// Which operations of a partition the search has decided (placed, or
// dropped as never having taken effect), with the two things the
// configuration cache needs from it in O(1) per change: a hash (Zobrist:
// the xor of a fixed random word per decided operation) and a short
// canonical encoding.
//
// Operations are numbered as the search orders them: those with a return
// event (answered, or unanswered with a bound) by call time, then those
// without.
#include <cstdint>
#include <span>
#include <vector>

#include "tests/linearizability/history.h"

namespace kvraft::linearizability {

class LinearizedSet {
 public:
  // `ops` in the order above; the first `bounded` have a return event.
  LinearizedSet(const std::vector<const Operation*>& ops, uint32_t bounded);

  void Mark(uint32_t op);
  void Unmark(uint32_t op);
  // Every operation with a return event decided: the search is done.
  bool AllBoundedDecided() const { return firstOpen_ == bounded_; }
  uint64_t hash() const { return hash_; }
  // Valid while !AllBoundedDecided(); until the next Mark or Unmark.
  std::span<const uint64_t> Encode();

 private:
  std::vector<uint64_t> bits_;
  std::vector<uint64_t> zobrist_;
  // For bounded operation i: the word holding the last operation called
  // no later than i returns (see Encode).
  std::vector<uint32_t> windowEndWord_;
  uint32_t bounded_;
  uint32_t total_;
  uint64_t hash_ = 0;
  uint32_t firstOpen_ = 0;  // the first bounded operation not decided
  std::vector<uint64_t> encoding_;
};

}  // namespace kvraft::linearizability
