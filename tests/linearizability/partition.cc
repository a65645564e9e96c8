#include "tests/linearizability/partition.h"

#include <algorithm>

namespace kvraft::linearizability {

namespace {

bool IsUnansweredRead(const Operation& op) {
  return !op.answered && (op.kind == OpKind::kGet || op.kind == OpKind::kRange);
}

}  // namespace

// A Range covers a contiguous run of the sorted keys, so partitions are
// runs too: merge the runs that overlap.
std::vector<Partition> SplitByKey(const History& history) {
  std::vector<std::string> keys;
  for (const Operation& op : history) {
    if (op.kind != OpKind::kRange && !IsUnansweredRead(op)) keys.push_back(op.key);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  auto indexOf = [&](const std::string& key) {
    return static_cast<size_t>(std::lower_bound(keys.begin(), keys.end(), key) - keys.begin());
  };

  // runEnd[k]: one past the last key tied to key k by some Range.
  std::vector<size_t> runEnd(keys.size());
  for (size_t k = 0; k < keys.size(); ++k) runEnd[k] = k + 1;
  std::vector<bool> overNoKey(history.size(), false);  // Ranges covering no key of the history
  for (size_t i = 0; i < history.size(); ++i) {
    const Operation& op = history[i];
    if (op.kind != OpKind::kRange || IsUnansweredRead(op)) continue;
    size_t lo = indexOf(op.key);
    size_t hi = op.rangeEnd ? indexOf(*op.rangeEnd) : keys.size();
    if (lo >= hi) {
      overNoKey[i] = true;
    } else {
      runEnd[lo] = std::max(runEnd[lo], hi);
    }
  }

  std::vector<Partition> partitions;
  std::vector<size_t> partitionOfKey(keys.size());
  for (size_t k = 0; k < keys.size();) {
    size_t end = runEnd[k];
    for (size_t j = k; j < end; ++j) end = std::max(end, runEnd[j]);
    Partition p;
    p.keys.assign(keys.begin() + k, keys.begin() + end);
    p.name = p.keys.size() == 1
                 ? "key " + Quote(p.keys[0])
                 : "keys " + Quote(p.keys.front()) + ".." + Quote(p.keys.back()) + " (" +
                       std::to_string(p.keys.size()) + " keys tied together by Range reads)";
    for (size_t j = k; j < end; ++j) partitionOfKey[j] = partitions.size();
    partitions.push_back(std::move(p));
    k = end;
  }
  for (size_t i = 0; i < history.size(); ++i) {
    if (IsUnansweredRead(history[i]) || overNoKey[i]) continue;
    partitions[partitionOfKey[indexOf(history[i].key)]].ops.push_back(i);
  }
  // Each such Range is an object of its own: it must read nothing.
  for (size_t i = 0; i < history.size(); ++i) {
    if (!overNoKey[i]) continue;
    Partition p;
    p.ops.push_back(i);
    p.name = "range over no key of the history (#" + std::to_string(i) + ")";
    partitions.push_back(std::move(p));
  }
  return partitions;
}

}  // namespace kvraft::linearizability
