#include "tests/linearizability/atomic_kv_simulation.h"

#include <algorithm>
#include <map>

namespace kvraft::linearizability {

uint64_t SeededRandom::Next() {
  uint64_t x = (state_ += 0x9e3779b97f4a7c15ull);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

namespace {

constexpr Time kNeverTakesEffect = kNeverReturned;

std::string KeyName(uint64_t k) { return "k" + std::to_string(k); }

// The operation's input, chosen when it takes effect so that a CAS can
// expect the current value about half the time.
void ChooseAndApply(Operation& op, SeededRandom& rng, const SimulationOptions& options,
                    std::map<std::string, std::string>& store, uint64_t serial) {
  auto current = [&]() -> Value {
    auto it = store.find(op.key);
    return it == store.end() ? Value() : Value(it->second);
  };
  const OperationMix& m = options.mix;
  uint64_t dice = rng.Below(m.get + m.put + m.append + m.del + m.compareAndSwap + m.range);
  if (dice < m.range) {
    // Key names sort as strings ("k10" < "k2"), so order the ends that way.
    op.kind = OpKind::kRange;
    op.key = KeyName(rng.Below(options.keys));
    if (!rng.Chance(20)) {
      std::string end = KeyName(rng.Below(options.keys));
      if (end < op.key) std::swap(end, op.key);
      op.rangeEnd = end;
    }
    for (auto it = store.lower_bound(op.key); it != store.end(); ++it) {
      if (op.rangeEnd && it->first >= *op.rangeEnd) break;
      op.range.push_back(*it);
    }
  } else if ((dice -= m.range) < m.get) {
    op.kind = OpKind::kGet;
    op.got = current();
  } else if ((dice -= m.get) < m.put) {
    op.kind = OpKind::kPut;
    op.argument = "p" + std::to_string(serial);
    store[op.key] = op.argument;
  } else if ((dice -= m.put) < m.append) {
    op.kind = OpKind::kAppend;
    op.argument = ".a" + std::to_string(serial);
    store[op.key] += op.argument;
  } else if ((dice -= m.append) < m.del) {
    op.kind = OpKind::kDelete;
    store.erase(op.key);
  } else {
    op.kind = OpKind::kCompareAndSwap;
    op.argument = "c" + std::to_string(serial);
    op.expected = rng.Chance(50) ? current() : Value("p" + std::to_string(rng.Below(serial + 1)));
    op.swapped = op.expected == current();
    if (op.swapped) store[op.key] = op.argument;
  }
}

}  // namespace

History SimulateAtomicKv(const SimulationOptions& options) {
  SeededRandom rng(options.seed);
  History history;
  std::vector<Time> effectAt;  // per operation; kNeverTakesEffect if never
  for (int c = 0; c < options.clients; ++c) {
    Time now = static_cast<Time>(rng.Below(options.maxThink + 1));
    for (int i = 0; i < options.operationsPerClient; ++i) {
      Operation op;
      op.client = c;
      op.call = now;
      op.key = KeyName(rng.Below(options.keys));
      Time latency = static_cast<Time>(rng.Below(options.maxLatency + 1));
      if (rng.Chance(options.neverReturnsPercent)) {
        // Lost in the network: it may land long after the client gave up.
        op.ret = options.boundUnanswered ? op.call + 4 * options.maxLatency : kNeverReturned;
        effectAt.push_back(rng.Chance(50)
                               ? op.call + static_cast<Time>(rng.Below(4 * options.maxLatency + 1))
                               : kNeverTakesEffect);
        now += options.maxLatency;
      } else {
        op.answered = true;
        op.ret = op.call + latency;
        effectAt.push_back(op.call + static_cast<Time>(rng.Below(latency + 1)));
        now = op.ret;
      }
      now += static_cast<Time>(rng.Below(options.maxThink + 1));
      history.push_back(std::move(op));
    }
  }

  std::vector<size_t> order(history.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return effectAt[a] < effectAt[b]; });
  std::map<std::string, std::string> store;
  for (size_t i : order) {
    // Operations that never take effect still need an input; give them
    // one against a scratch copy so the real store is unaffected.
    if (effectAt[i] == kNeverTakesEffect) {
      std::map<std::string, std::string> scratch = store;
      ChooseAndApply(history[i], rng, options, scratch, i);
    } else {
      ChooseAndApply(history[i], rng, options, store, i);
    }
  }
  return history;
}

}  // namespace kvraft::linearizability
