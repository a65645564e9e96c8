#include "tests/linearizability/kv_model.h"

#include <algorithm>
#include <cassert>

namespace kvraft::linearizability {

namespace {

std::optional<KvState> Reject(std::string* why, std::string reason) {
  if (why != nullptr) *why = std::move(reason);
  return std::nullopt;
}

std::string DescribePairs(const KeyValues& kvs) {
  std::string s = "{";
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (i > 0) s += ", ";
    s += Quote(kvs[i].first) + ": " + Quote(kvs[i].second);
  }
  return s + "}";
}

}  // namespace

KvModel::KvModel(std::vector<std::string> keys) : keys_(std::move(keys)) {
  assert(std::is_sorted(keys_.begin(), keys_.end()));
}

size_t KvModel::IndexOf(const std::string& key) const {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), key);
  assert(it != keys_.end() && *it == key);
  return static_cast<size_t>(it - keys_.begin());
}

KeyValues KvModel::RangeOf(const KvState& state, const Operation& op) const {
  KeyValues out;
  auto first = std::lower_bound(keys_.begin(), keys_.end(), op.key);
  auto last =
      op.rangeEnd ? std::lower_bound(keys_.begin(), keys_.end(), *op.rangeEnd) : keys_.end();
  for (auto it = first; it < last; ++it) {
    const Value& v = state[static_cast<size_t>(it - keys_.begin())];
    if (v) out.emplace_back(*it, *v);
  }
  return out;
}

std::optional<KvState> KvModel::Step(const KvState& state, const Operation& op,
                                     std::string* why) const {
  if (op.kind == OpKind::kRange) {
    if (!op.answered) return state;
    KeyValues actual = RangeOf(state, op);
    if (op.range == actual) return state;
    return Reject(why, "returned " + DescribePairs(op.range) + " but the range held " +
                           DescribePairs(actual));
  }

  size_t k = IndexOf(op.key);
  const Value& current = state[k];
  KvState next = state;
  switch (op.kind) {
    case OpKind::kGet:
      if (!op.answered || op.got == current) return state;
      return Reject(why,
                    "returned " + QuoteValue(op.got) + " but the value was " + QuoteValue(current));
    case OpKind::kPut:
      next[k] = op.argument;
      return next;
    case OpKind::kAppend:
      next[k] = current.value_or("") + op.argument;
      return next;
    case OpKind::kDelete:
      next[k] = std::nullopt;
      return next;
    case OpKind::kCompareAndSwap: {
      bool matches = current == op.expected;
      // Without an answer: the outcome is whatever the state dictates.
      if (!op.answered || op.swapped == matches) {
        if (matches) next[k] = op.argument;
        return next;
      }
      return Reject(why, std::string(op.swapped ? "swapped" : "did not swap") +
                             " but the value was " + QuoteValue(current));
    }
    case OpKind::kRange:
      break;  // handled above
  }
  return Reject(why, "unknown operation kind");
}

bool KvModel::Observes(const KvState& state, const Operation& op) const {
  if (!op.answered) return true;
  switch (op.kind) {
    case OpKind::kGet:
      return state[IndexOf(op.key)] == op.got;
    case OpKind::kRange:
      return RangeOf(state, op) == op.range;
    case OpKind::kCompareAndSwap:
      assert(!op.swapped);
      return state[IndexOf(op.key)] != op.expected;
    default:
      assert(false && "not a read-only operation");
      return false;
  }
}

std::string KvModel::Describe(const KvState& state) const {
  if (keys_.size() == 1) return Quote(keys_[0]) + " = " + QuoteValue(state[0]);
  KeyValues present;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (state[i]) present.emplace_back(keys_[i], *state[i]);
  }
  return DescribePairs(present);
}

}  // namespace kvraft::linearizability
