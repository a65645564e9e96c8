#pragma once
// Splitting a history into parts that can be checked on their own.
// Linearizability is local (Herlihy & Wing 1990): a history is
// linearizable iff the sub-history of each object is. An object here is
// one key, or several keys that a Range read observes together.
#include <cstddef>
#include <string>
#include <vector>

#include "tests/linearizability/history.h"

namespace kvraft::linearizability {

struct Partition {
  std::vector<std::string> keys;  // sorted; empty for a Range over no key
  std::vector<size_t> ops;        // history indices, in history order
  std::string name;               // for people, e.g. `key "x"`
};

// The partitions in key order. A Range with an answer ties together the
// keys of the history in its span; a Range over none of them is a
// partition of its own (it must read nothing). Reads without an answer
// belong to no partition: they constrain nothing.
std::vector<Partition> SplitByKey(const History& history);

}  // namespace kvraft::linearizability
