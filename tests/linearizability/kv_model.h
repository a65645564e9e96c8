#pragma once
// The sequential specification the history is checked against: a map from
// keys to values on which every operation takes effect atomically. One
// model covers one partition of the history, i.e. a fixed, sorted set of
// keys (one key, unless Range reads tie several together; see partition.h).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tests/linearizability/history.h"

namespace kvraft::linearizability {

// The value of every key of a partition, by the key's position in the
// partition's sorted key list.
using KvState = std::vector<Value>;

class KvModel {
 public:
  // `keys` must be sorted and distinct; every operation later passed in
  // touches only these keys (a Range may also name keys outside the list,
  // which the history never wrote and so are absent).
  explicit KvModel(std::vector<std::string> keys);

  // Every key absent: the store starts empty.
  KvState Initial() const { return KvState(keys_.size()); }

  // The state after `op` takes effect in `state`, or nullopt when `op`
  // could not have answered what it did there. An operation without an
  // answer accepts any. When rejecting, sets *why (if not null) to
  // a sentence for a person, e.g. `returned "b" but the value was "a"`.
  std::optional<KvState> Step(const KvState& state, const Operation& op,
                              std::string* why = nullptr) const;

  // For an operation that never changes the state (Get, Range, a CAS that
  // reported failure): whether its answer is right in `state`. The same
  // as Step(...).has_value(), without building a state.
  bool Observes(const KvState& state, const Operation& op) const;

  // E.g. `"x" = "1"` for one key, `{"a": "1", "c": "2"}` for several.
  std::string Describe(const KvState& state) const;

  const std::vector<std::string>& keys() const { return keys_; }

 private:
  size_t IndexOf(const std::string& key) const;
  // The pairs a correct Range read of [op.key, op.rangeEnd) returns in `state`.
  KeyValues RangeOf(const KvState& state, const Operation& op) const;

  std::vector<std::string> keys_;
};

}  // namespace kvraft::linearizability
