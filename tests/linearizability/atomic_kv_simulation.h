#pragma once
// Histories that are linearizable by construction, for testing the
// checker: simulated clients issue random operations with random, heavily
// overlapping intervals against a sequential map, and each operation takes
// effect at a random instant inside its interval (or, for one that never
// returns, at a random instant after its call, or not at all).
#include <cstdint>

#include "tests/linearizability/history.h"

namespace kvraft::linearizability {

// A small deterministic generator (SplitMix64): the same seed gives the
// same history on every platform, unlike the std distributions.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  uint64_t Below(uint64_t n) { return Next() % n; }  // [0, n)
  bool Chance(uint32_t percent) { return Below(100) < percent; }

 private:
  uint64_t state_;
};

// Relative weights of the operation kinds a client picks from.
struct OperationMix {
  uint32_t get = 45;
  uint32_t put = 20;
  uint32_t append = 15;
  uint32_t del = 5;
  uint32_t compareAndSwap = 15;
  uint32_t range = 0;  // Range reads over random key spans
};

struct SimulationOptions {
  uint64_t seed = 1;
  int clients = 8;
  int keys = 4;
  int operationsPerClient = 100;
  Time maxLatency = 100;  // an operation lasts [0, maxLatency] us
  Time maxThink = 30;     // a client waits [0, maxThink] us between operations
  // Chance that an operation never returns; its client moves on after
  // maxLatency (a timeout) while the operation may still take effect, up
  // to 4 * maxLatency after its call.
  uint32_t neverReturnsPercent = 2;
  // Record that bound (Operation::Unanswered) rather than none.
  bool boundUnanswered = false;
  OperationMix mix;
};

// Put values ("p<n>"), Append suffixes (".a<n>") and CAS new values
// ("c<n>") are all distinct, so a value names the operation that wrote it.
History SimulateAtomicKv(const SimulationOptions& options);

}  // namespace kvraft::linearizability
