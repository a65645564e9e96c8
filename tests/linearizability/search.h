#pragma once
// The search for a linearization of one partition of a history: Wing &
// Gong's depth-first search (Wing & Gong 1993, "Testing and verifying
// concurrent objects", JPDC 17) with Lowe's memoization of configurations
// (Lowe 2017, "Testing for linearizability", CCPE 29(4)).
//
// The search walks the call and return events in time order. At each
// configuration (operations placed so far, model state) the candidates
// are the operations called before the first return still pending; it
// tries each as the next to take effect, if the model accepts its answer,
// and backtracks when none is left, since the operation whose return comes
// first cannot take effect after it. Every answered operation placed means
// success. An operation without an answer may stay unplaced: placing it at
// the very end, after everything else, is the same as its never taking
// effect; one with a bound (Operation::Unanswered) may be dropped when its
// bound comes up.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/linearizability/history.h"
#include "tests/linearizability/kv_model.h"

namespace kvraft::linearizability {

enum class SearchOutcome {
  kLinearizable,
  kNotLinearizable,
  kBudgetExhausted,  // took maxSteps steps without an answer
  kMemoryExhausted,  // held more than maxBytes without an answer
};

struct SearchOptions {
  uint64_t maxSteps;
  uint64_t maxBytes;
};

struct SearchResult {
  SearchOutcome outcome = SearchOutcome::kBudgetExhausted;
  // Search steps taken: one per candidate listed on entering a
  // configuration and one per choice tried, so this measures work. May
  // pass maxSteps by the candidates of one configuration.
  uint64_t steps = 0;
  uint64_t configurations = 0;  // cached, at most one a step
  // Memory held at the end: states, memoized steps, the cache.
  uint64_t bytes = 0;
  // Not linearizable only: the prefix of a linearization the search built
  // that placed the most answered operations (indices into the `ops`
  // passed in, in linearization order; the first such prefix found), the
  // model state after it, and the unanswered operations it decided had no
  // effect.
  std::vector<size_t> longestPrefix;
  KvState stateAfterPrefix;
  std::vector<size_t> droppedInPrefix;
};

// Checks `ops` (all on the keys of `model`) against `model`, giving up
// when either budget runs out. Deterministic: the same input gives the
// same result (the memory figure aside, which may vary with the standard
// library, and so may a verdict decided by the memory budget).
SearchResult SearchLinearization(const std::vector<const Operation*>& ops, const KvModel& model,
                                 const SearchOptions& options);

}  // namespace kvraft::linearizability
