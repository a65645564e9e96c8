#pragma once
// The simulator's replicated state machine: a running hash over every
// applied entry. Two replicas that applied the same entries in the same
// order have the same hash, so comparing hashes compares whole histories.
#include <cstdint>
#include <cstring>
#include <string>

#include "raftlog/types.h"

namespace kvraft::sim {

inline uint64_t Fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

inline uint64_t MixU64(uint64_t h, uint64_t v) { return Fnv1a(h, &v, sizeof v); }

inline uint64_t EntryHash(const raft::Entry& e) {
  uint64_t h = MixU64(1469598103934665603ull, static_cast<uint64_t>(e.type));
  return Fnv1a(h, e.data.data(), e.data.size());
}

struct SimStateMachine {
  uint64_t appliedIndex = 0;
  uint64_t appliedTerm = 0;
  uint64_t hash = 1469598103934665603ull;

  void Apply(const raft::Entry& e) {
    hash = MixU64(MixU64(hash, e.index), EntryHash(e));
    appliedIndex = e.index;
    appliedTerm = e.term;
  }

  // The snapshot: the three numbers, then `padding` filler bytes derived
  // from the hash so that chunked transfer has something to carry and any
  // corruption in transit changes what Decode sees.
  std::string Encode(size_t padding) const {
    std::string out;
    for (uint64_t v : {appliedIndex, appliedTerm, hash}) out.append(reinterpret_cast<const char*>(&v), 8);
    uint64_t x = hash;
    for (size_t i = 0; i < padding; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      out.push_back(static_cast<char>(x >> 56));
    }
    return out;
  }

  bool Decode(const std::string& in) {
    if (in.size() < 24) return false;
    uint64_t v[3];
    for (int i = 0; i < 3; ++i) std::memcpy(&v[i], in.data() + 8 * i, 8);
    SimStateMachine s;
    s.appliedIndex = v[0];
    s.appliedTerm = v[1];
    s.hash = v[2];
    if (s.Encode(in.size() - 24) != in) return false;  // filler must match too
    *this = s;
    return true;
  }
};

}  // namespace kvraft::sim
