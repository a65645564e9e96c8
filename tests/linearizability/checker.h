#pragma once
// Linearizability checker for key/value histories (history.h).
//
//   History h;
//   h.push_back(Operation::Put(/*client=*/1, /*call=*/0, /*ret=*/10, "x", "a"));
//   h.push_back(Operation::Get(2, 20, 30, "x", std::nullopt));  // stale: "a" was written
//   CheckResult r = CheckLinearizability(h);
//   if (r.verdict != Verdict::kOk) ADD_FAILURE() << r.Describe();
//
// How: linearizability is local (Herlihy & Wing 1990): a history is
// linearizable iff the sub-history of each object is. An object is a key,
// so the history is split by key and each part searched on its own (what
// Horn & Kroening 2015 call P-compositionality), which turns one search
// exponential in the whole history into many small ones. Each part is
// searched by search.h: Wing & Gong 1993 with Lowe 2017's cache of
// configurations, plus two exact prunings described there.
//
// Range reads span keys. A Range ties together every key of the history in
// its span, and tied keys are checked as one partition against a
// multi-key model: exact, but a Range over everything makes the whole
// history one partition, which costs as much as checking it unsplit.
//
// Cost. Ordinary histories need a few search steps per operation (a step
// is 10-100 ns): 100,000 operations from 16 clients over 200 keys check in
// under 0.1 s. The problem is NP-complete in general (Gibbons & Korach
// 1997), and what drives the cost is how many operations are in flight on
// one key at once: on one key, 10,000 operations from 8 clients take
// ~0.1 s, from 10 clients ~0.5 s, and from 12 the default budget runs
// out. An unanswered operation without a bound stays in flight for the
// rest of the history: with 2% of operations timing out, proving a
// 10,000-operation history of one key wrong runs out of budget even with
// 4 clients, and takes 0.03 s when the timeouts carry bounds (history.h).
// Out of budget, a partition is kUnknown, never a wrong verdict.
// README.md has the measurements.
//
// Deterministic: partitions are checked and reported in key order, the
// search order is fixed by the history, and nothing random is involved.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/linearizability/history.h"

namespace kvraft::linearizability {

enum class Verdict {
  kOk,               // linearizable
  kNotLinearizable,  // no linearization exists; see the explanation
  kUnknown,          // some partition ran out of budget, none failed
  kInvalidHistory,   // malformed input (e.g. returns before its call)
};
const char* VerdictName(Verdict v);

struct CheckOptions {
  // Work allowed per partition, in search steps; past it the partition is
  // kUnknown. The default is about a second of work.
  uint64_t maxStepsPerPartition = 20'000'000;
  // Memory allowed per partition (model states, memoized transitions, the
  // configuration cache); past it the partition is kUnknown. Appends make
  // long values, and each order of concurrent Appends a new one, so this
  // can bind before the step budget does.
  uint64_t maxBytesPerPartition = uint64_t{1} << 30;
  // How many operations of the longest linearizable prefix an explanation
  // lists: the last ones, since they made the state the stuck operations
  // disagree with. The full prefix is in Violation::prefix.
  size_t explainPrefixOps = 10;
};

// Why a partition has no linearization: the furthest point the search
// reached, and the operations that could not go on from there.
struct Violation {
  // History indices of the linearizable prefix with the most answered
  // operations, in the order of that linearization (the first such prefix
  // the search met).
  std::vector<size_t> prefix;
  std::string stateAfterPrefix;  // printable model state after the prefix
  struct Stuck {
    size_t op;        // history index
    std::string why;  // e.g. `returned "a" but the value was "b"`
  };
  // Every operation that could take effect next (called before the
  // earliest answered return among the rest), each with why it cannot.
  std::vector<Stuck> candidates;
  // The earliest-returning operation not in the prefix: one of the
  // candidates had to take effect before it returned.
  size_t deadline = 0;
};

struct PartitionReport {
  std::vector<std::string> keys;  // one, unless tied by Range reads
  std::string name;               // e.g. `key "x"`
  Verdict verdict = Verdict::kOk;
  size_t operations = 0;  // searched (unanswered reads dropped)
  uint64_t steps = 0;
  uint64_t bytes = 0;                  // memory the search held at the end
  std::optional<Violation> violation;  // when kNotLinearizable
  std::string explanation;             // printable, several lines
};

struct CheckResult {
  Verdict verdict = Verdict::kOk;
  std::string error;  // kInvalidHistory: what is wrong, naming the operation
  size_t partitions = 0;
  size_t operations = 0;  // searched, over all partitions
  uint64_t steps = 0;     // over all partitions
  uint64_t maxPartitionSteps = 0;
  // Partitions that are not kOk, in key order.
  std::vector<PartitionReport> problems;

  // One summary line, then each problem's explanation.
  std::string Describe() const;
};

CheckResult CheckLinearizability(const History& history, const CheckOptions& options = {});

}  // namespace kvraft::linearizability
