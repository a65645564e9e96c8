#pragma once
// Model states by number, and the model's steps between them memoized.
// The search meets the same states and the same steps again and again in
// different orders; numbering the states lets the stack, the memo and the
// configuration cache hold a 4-byte id instead of a copy of the values.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "tests/linearizability/kv_model.h"

namespace kvraft::linearizability {

// A 64-bit finalizer (MurmurHash3's fmix64): spreads the bits of ids and
// keys over the whole word for the open-addressing tables.
inline uint64_t MixBits(uint64_t x) {
  x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
  x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

class StateTable {
 public:
  // The id of `state`, numbering it if it is new.
  uint32_t Intern(KvState state);
  const KvState& operator[](uint32_t id) const { return *byId_[id]; }
  // Roughly the memory held. Appends make long values, and every order of
  // concurrent Appends a new one, so this can grow fast.
  size_t bytes() const { return bytes_; }

 private:
  struct Hash {
    size_t operator()(const KvState& state) const;
  };

  std::unordered_map<KvState, uint32_t, Hash> ids_;  // looked up, never iterated
  std::vector<const KvState*> byId_;                 // keys of a node map stay put
  size_t bytes_ = 0;
};

// (state id, operation) -> the state id after it, or kRejected. Open
// addressing in one array: the search looks a step up for every choice it
// tries, and a node-based map spent most of that time in cache misses.
class TransitionMemo {
 public:
  static constexpr int32_t kRejected = -1;
  static constexpr int32_t kUnknown = -2;  // not memoized yet

  int32_t Find(uint32_t state, uint32_t op) const;
  void Insert(uint32_t state, uint32_t op, int32_t after);
  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // state ids stay below 2^32 - 1
  struct Slot {
    uint64_t key = kEmpty;  // state << 32 | op
    int32_t after = 0;
  };
  void Grow();

  std::vector<Slot> slots_ = std::vector<Slot>(1024);  // size: a power of two
  size_t count_ = 0;
};

}  // namespace kvraft::linearizability
