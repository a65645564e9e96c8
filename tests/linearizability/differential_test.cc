// The checker against a reference written the plain way, on thousands of
// small random histories: a recursive search over every order that
// respects real time, with its own map model, and none of the checker's
// machinery (no partitioning, event list, cache or read shortcut). Any
// disagreement is a bug in one of them.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "tests/linearizability/atomic_kv_simulation.h"
#include "tests/linearizability/checker.h"

namespace kvraft::linearizability {
namespace {

using Store = std::map<std::string, std::string>;

// Applies op to store if its answer is right there (any answer, if it has
// none).
bool ApplyIfRight(const Operation& op, Store& store) {
  auto it = store.find(op.key);
  Value current = it == store.end() ? Value() : Value(it->second);
  switch (op.kind) {
    case OpKind::kGet:
      return !op.answered || op.got == current;
    case OpKind::kPut:
      store[op.key] = op.argument;
      return true;
    case OpKind::kAppend:
      store[op.key] += op.argument;
      return true;
    case OpKind::kDelete:
      store.erase(op.key);
      return true;
    case OpKind::kCompareAndSwap: {
      bool match = current == op.expected;
      if (op.answered && op.swapped != match) return false;
      if (match) store[op.key] = op.argument;
      return true;
    }
    case OpKind::kRange: {
      if (!op.answered) return true;
      KeyValues seen;
      for (auto i = store.lower_bound(op.key); i != store.end(); ++i) {
        if (op.rangeEnd && i->first >= *op.rangeEnd) break;
        seen.push_back(*i);
      }
      return seen == op.range;
    }
  }
  return false;
}

// decided: bit i set when operation i is placed, or (without an answer)
// taken to have had no effect. `failed` remembers dead ends, so that the
// reference stays fast enough without being clever.
using Failed = std::set<std::pair<uint32_t, Store>>;

bool ReferenceLinearizable(const History& h, uint32_t decided, const Store& store, Failed& failed) {
  bool allAnsweredPlaced = true;
  for (size_t i = 0; i < h.size(); ++i) allAnsweredPlaced &= (decided >> i & 1) || !h[i].answered;
  if (allAnsweredPlaced) return true;
  if (failed.count({decided, store})) return false;
  for (size_t i = 0; i < h.size(); ++i) {
    if (decided >> i & 1) continue;
    uint32_t with = decided | 1u << i;
    // Without an answer, it may never take effect.
    if (!h[i].answered && ReferenceLinearizable(h, with, store, failed)) return true;
    // Or it takes effect now, if everything that ended before its call is
    // decided.
    bool ready = true;
    for (size_t j = 0; j < h.size(); ++j) ready &= (decided >> j & 1) || !(h[j].ret < h[i].call);
    Store next = store;
    if (ready && ApplyIfRight(h[i], next) && ReferenceLinearizable(h, with, next, failed)) {
      return true;
    }
  }
  failed.insert({decided, store});
  return false;
}

bool ReferenceLinearizable(const History& h) {
  Failed failed;
  return ReferenceLinearizable(h, 0, Store(), failed);
}

// Changes one answer to something plausible, so that roughly half of the
// histories stop being linearizable, in ways near the boundary.
void Corrupt(History& h, SeededRandom& rng) {
  Operation& op = h[rng.Below(h.size())];
  switch (op.kind) {
    case OpKind::kGet: {
      const Operation& other = h[rng.Below(h.size())];
      op.got = rng.Chance(30) ? Value() : Value(other.argument.empty() ? "x" : other.argument);
      break;
    }
    case OpKind::kCompareAndSwap:
      op.swapped = !op.swapped;
      break;
    case OpKind::kRange:
      if (op.range.empty()) {
        op.range.emplace_back(op.key, "x");
      } else {
        op.range.pop_back();
      }
      break;
    default:  // shift a write's interval instead
      op.call += static_cast<Time>(rng.Below(20));
      if (op.answered) op.ret = std::max(op.ret, op.call);
      break;
  }
}

TEST(CheckerDifferential, AgreesWithPlainSearchOnSmallRandomHistories) {
  SeededRandom rng(12345);
  int linearizable = 0, notLinearizable = 0;
  for (uint64_t seed = 1; seed <= 10000; ++seed) {
    SimulationOptions o;
    o.seed = seed;
    o.clients = 2 + static_cast<int>(seed % 3);
    o.keys = 1 + static_cast<int>(seed % 2);
    o.operationsPerClient = 2 + static_cast<int>(seed / 3 % 2);
    o.maxLatency = 20;
    o.maxThink = 4;
    o.neverReturnsPercent = 15;
    o.mix.range = seed % 3 == 0 ? 8 : 0;
    if (seed % 4 == 1) o.mix = {.get = 40, .put = 40, .append = 0, .del = 10, .compareAndSwap = 10};
    History h = SimulateAtomicKv(o);
    if (rng.Chance(75)) Corrupt(h, rng);
    // Bound some unanswered operations tightly, so that the bound decides
    // verdicts (the simulation's own bound is too loose to).
    for (Operation& op : h) {
      if (!op.answered && seed % 5 < 2) op.ret = op.call + static_cast<Time>(rng.Below(25));
    }
    bool expected = ReferenceLinearizable(h);
    CheckResult r = CheckLinearizability(h);
    ASSERT_EQ(r.verdict, expected ? Verdict::kOk : Verdict::kNotLinearizable)
        << "seed " << seed << "\n"
        << r.Describe() << [&] {
             std::string s;
             for (size_t i = 0; i < h.size(); ++i)
               s += "#" + std::to_string(i) + " " + Describe(h[i]) + "\n";
             return s;
           }();
    (expected ? linearizable : notLinearizable)++;
  }
  std::printf("%d linearizable, %d not\n", linearizable, notLinearizable);
  // Both answers are well represented, or the comparison proves little.
  EXPECT_GT(linearizable, 3000);
  EXPECT_GT(notLinearizable, 2000);
}

}  // namespace
}  // namespace kvraft::linearizability
