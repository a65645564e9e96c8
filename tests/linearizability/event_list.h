#pragma once
// The call and return events of a partition's operations in time order,
// as a doubly linked list from which the search lifts an operation's two
// events when it places the operation, and into which it puts them back
// when it undoes that (in reverse order: Knuth's "dancing links"). So the
// operations that may take effect next, those whose call comes before the
// first remaining return, are always at the front of the list.
#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "tests/linearizability/history.h"

namespace kvraft::linearizability {

class EventList {
 public:
  // Node ids: 0 is the head, 1 + 2i the call of operation i, 2 + 2i its
  // return, 2n + 1 the tail. At equal times calls come first, so that
  // operations whose stamps touch count as concurrent (history.h).
  explicit EventList(const std::vector<const Operation*>& ops) {
    const uint32_t n = static_cast<uint32_t>(ops.size());
    std::vector<uint32_t> events;
    for (uint32_t i = 0; i < n; ++i) {
      events.push_back(CallOf(i));
      events.push_back(ReturnOf(i));
    }
    auto when = [&](uint32_t node) {
      const Operation& op = *ops[OpOf(node)];
      return std::make_tuple(IsCall(node) ? op.call : op.ret, !IsCall(node), node);
    };
    std::sort(events.begin(), events.end(),
              [&](uint32_t a, uint32_t b) { return when(a) < when(b); });
    tail_ = 2 * n + 1;
    next_.assign(2 * n + 2, tail_);
    prev_.assign(2 * n + 2, kHead);
    uint32_t last = kHead;
    for (uint32_t node : events) {
      next_[last] = node;
      prev_[node] = last;
      last = node;
    }
    next_[last] = tail_;
    prev_[tail_] = last;
  }

  static uint32_t CallOf(uint32_t op) { return 1 + 2 * op; }
  static uint32_t ReturnOf(uint32_t op) { return 2 + 2 * op; }
  static bool IsCall(uint32_t node) { return node % 2 == 1; }
  static uint32_t OpOf(uint32_t node) { return (node - 1) / 2; }

  uint32_t First() const { return next_[kHead]; }
  uint32_t Next(uint32_t node) const { return next_[node]; }
  bool IsTail(uint32_t node) const { return node == tail_; }

  void Lift(uint32_t op) {
    Unlink(CallOf(op));
    Unlink(ReturnOf(op));
  }
  // Must undo the most recent Lift not yet undone.
  void Unlift(uint32_t op) {
    Relink(ReturnOf(op));
    Relink(CallOf(op));
  }

 private:
  static constexpr uint32_t kHead = 0;

  void Unlink(uint32_t node) {
    next_[prev_[node]] = next_[node];
    prev_[next_[node]] = prev_[node];
  }
  void Relink(uint32_t node) {
    next_[prev_[node]] = node;
    prev_[next_[node]] = node;
  }

  std::vector<uint32_t> next_, prev_;
  uint32_t tail_ = 1;
};

}  // namespace kvraft::linearizability
