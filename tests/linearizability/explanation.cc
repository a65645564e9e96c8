#include "tests/linearizability/explanation.h"

#include <algorithm>

namespace kvraft::linearizability {

namespace {

std::string Line(const History& history, size_t i) {
  return "    #" + std::to_string(i) + " " + Describe(history[i]);
}

}  // namespace

// The operations not in the longest prefix that were called before the
// earliest answered return among them are the ones that could have come
// next. The search got no deeper, so none of them fits the state there.
Violation Explain(const History& history, const std::vector<size_t>& ops, const KvModel& model,
                  const SearchResult& search) {
  Violation v;
  std::vector<bool> decided(ops.size(), false);
  for (size_t local : search.longestPrefix) {
    decided[local] = true;
    v.prefix.push_back(ops[local]);
  }
  for (size_t local : search.droppedInPrefix) decided[local] = true;
  v.stateAfterPrefix = model.Describe(search.stateAfterPrefix);
  Time deadline = kNeverReturned;
  for (size_t local = 0; local < ops.size(); ++local) {
    const Operation& op = history[ops[local]];
    if (!decided[local] && op.answered && op.ret < deadline) {
      deadline = op.ret;
      v.deadline = ops[local];
    }
  }
  for (size_t local = 0; local < ops.size(); ++local) {
    const Operation& op = history[ops[local]];
    if (decided[local] || op.call > deadline) continue;
    std::string why;
    if (model.Step(search.stateAfterPrefix, op, &why)) {
      why = "could take effect here, but nothing after it works";
    }
    v.candidates.push_back({ops[local], why});
  }
  std::stable_sort(v.candidates.begin(), v.candidates.end(), [&](const auto& a, const auto& b) {
    return history[a.op].call < history[b.op].call;
  });
  return v;
}

std::string Explanation(const History& history, const PartitionReport& report,
                        const CheckOptions& options) {
  std::string s = report.name + ": " + VerdictName(report.verdict) + " (" +
                  std::to_string(report.operations) + " operations, " +
                  std::to_string(report.steps) + " search steps)\n";
  if (!report.violation) {
    return s + "  the search ran out of budget (" + std::to_string(report.bytes >> 20) +
           " MiB held); raise CheckOptions::maxStepsPerPartition or maxBytesPerPartition, or\n"
           "  record fewer concurrent operations per key\n";
  }
  const Violation& v = *report.violation;
  s += "  longest linearizable prefix found: " + std::to_string(v.prefix.size()) + " of " +
       std::to_string(report.operations) + " operations";
  size_t shown = std::min(v.prefix.size(), options.explainPrefixOps);
  if (shown < v.prefix.size()) {
    s += ", the last " + std::to_string(shown) + " (" + std::to_string(v.prefix.size() - shown) +
         " earlier omitted)";
  }
  s += v.prefix.empty() ? "\n" : ":\n";
  for (size_t i = v.prefix.size() - shown; i < v.prefix.size(); ++i) {
    s += Line(history, v.prefix[i]) + "\n";
  }
  s += "  state after it: " + v.stateAfterPrefix + "\n";
  s += "  operations that could take effect next, none of which fits:\n";
  for (const Violation::Stuck& c : v.candidates) {
    s += Line(history, c.op) + "\n      " + c.why + "\n";
  }
  s += "  #" + std::to_string(v.deadline) + " returned at " +
       std::to_string(history[v.deadline].ret) + ", so one of them had to take effect by then\n";
  return s;
}

}  // namespace kvraft::linearizability
