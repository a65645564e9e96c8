#pragma once
// Turning a failed search into something a person can act on: which
// operations were placed, what the state was then, and why each operation
// that could have come next does not fit.
#include <string>
#include <vector>

#include "tests/linearizability/checker.h"
#include "tests/linearizability/kv_model.h"
#include "tests/linearizability/search.h"

namespace kvraft::linearizability {

// `ops`: the history indices the search was given, in the same order.
Violation Explain(const History& history, const std::vector<size_t>& ops, const KvModel& model,
                  const SearchResult& search);

// Several lines for `report` (its violation, or that it ran out of
// budget), listing at most options.explainPrefixOps operations of the
// prefix.
std::string Explanation(const History& history, const PartitionReport& report,
                        const CheckOptions& options);

}  // namespace kvraft::linearizability
