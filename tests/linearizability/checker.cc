#include "tests/linearizability/checker.h"

#include <algorithm>

#include "tests/linearizability/explanation.h"
#include "tests/linearizability/kv_model.h"
#include "tests/linearizability/partition.h"
#include "tests/linearizability/search.h"

namespace kvraft::linearizability {

namespace {

std::string ValidateHistory(const History& history) {
  for (size_t i = 0; i < history.size(); ++i) {
    const Operation& op = history[i];
    if (op.call == kNeverReturned) {
      return "operation #" + std::to_string(i) + " has no call time: " + Describe(op);
    }
    if (op.ret < op.call) {
      return "operation #" + std::to_string(i) + " returns before it is called: " + Describe(op);
    }
    if (op.answered && op.ret == kNeverReturned) {
      return "operation #" + std::to_string(i) +
             " has an answer but no return time: " + Describe(op);
    }
  }
  return "";
}

PartitionReport CheckPartition(const History& history, const Partition& partition,
                               const CheckOptions& options) {
  PartitionReport report;
  report.keys = partition.keys;
  report.name = partition.name;
  std::vector<const Operation*> ops;
  for (size_t i : partition.ops) ops.push_back(&history[i]);
  report.operations = ops.size();
  KvModel model(partition.keys);
  SearchResult search =
      SearchLinearization(ops, model, {options.maxStepsPerPartition, options.maxBytesPerPartition});
  report.steps = search.steps;
  report.bytes = search.bytes;
  switch (search.outcome) {
    case SearchOutcome::kLinearizable:
      report.verdict = Verdict::kOk;
      return report;
    case SearchOutcome::kBudgetExhausted:
    case SearchOutcome::kMemoryExhausted:
      report.verdict = Verdict::kUnknown;
      break;
    case SearchOutcome::kNotLinearizable:
      report.verdict = Verdict::kNotLinearizable;
      report.violation = Explain(history, partition.ops, model, search);
      break;
  }
  report.explanation = Explanation(history, report, options);
  return report;
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kOk:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not linearizable";
    case Verdict::kUnknown:
      return "unknown (out of budget)";
    case Verdict::kInvalidHistory:
      return "invalid history";
  }
  return "?";
}

CheckResult CheckLinearizability(const History& history, const CheckOptions& options) {
  CheckResult result;
  result.error = ValidateHistory(history);
  if (!result.error.empty()) {
    result.verdict = Verdict::kInvalidHistory;
    return result;
  }
  bool unknown = false;
  bool violated = false;
  for (const Partition& partition : SplitByKey(history)) {
    PartitionReport report = CheckPartition(history, partition, options);
    ++result.partitions;
    result.operations += report.operations;
    result.steps += report.steps;
    result.maxPartitionSteps = std::max(result.maxPartitionSteps, report.steps);
    unknown |= report.verdict == Verdict::kUnknown;
    violated |= report.verdict == Verdict::kNotLinearizable;
    if (report.verdict != Verdict::kOk) result.problems.push_back(std::move(report));
  }
  result.verdict = violated  ? Verdict::kNotLinearizable
                   : unknown ? Verdict::kUnknown
                             : Verdict::kOk;
  return result;
}

std::string CheckResult::Describe() const {
  if (verdict == Verdict::kInvalidHistory) return std::string("invalid history: ") + error + "\n";
  std::string s = std::string(VerdictName(verdict)) + ": " + std::to_string(partitions) +
                  " partitions, " + std::to_string(operations) + " operations, " +
                  std::to_string(steps) + " search steps";
  if (!problems.empty()) {
    s += ", " + std::to_string(problems.size()) +
         (problems.size() == 1 ? " partition" : " partitions") + " not ok";
  }
  s += "\n";
  for (const PartitionReport& p : problems) s += p.explanation;
  return s;
}

}  // namespace kvraft::linearizability
