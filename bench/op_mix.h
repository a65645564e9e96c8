#pragma once
// The operations a run issues and in what proportions: a mix such as
// "get:95,put:5", and the workloads --workload names (a single operation,
// or one of the YCSB core workloads A-F) as presets of a mix, a key order
// and a range length.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/key_chooser.h"

namespace kvraft::bench {

enum class OpKind {
  kGet,              // Get of an existing key
  kPut,              // Put of a chosen key (YCSB's "update")
  kAppend,           // Append --value_size bytes to a chosen key
  kCas,              // CompareAndSwap from the value the client last saw to a new one
  kDelete,           // Delete of a chosen key
  kRange,            // Range of --range_limit keys from a chosen key (YCSB's "scan")
  kInsert,           // Put of a new key, after every key so far (YCSB's "insert")
  kReadModifyWrite,  // Get of a key, then Put of a new value to it, as one operation
};
constexpr size_t kOpKindCount = 8;

// "get", "put", "append", "cas", "delete", "range", "insert", "rmw".
const char* OpKindName(OpKind kind);
std::optional<OpKind> ParseOpKind(std::string_view name);

struct OpWeight {
  OpKind kind;
  uint64_t weight;
  bool operator==(const OpWeight&) const = default;
};

class OpMix {
 public:
  OpMix() = default;
  // Weights must be positive and the kinds distinct.
  explicit OpMix(std::vector<OpWeight> weights);

  // "get:95,put:5": operation:weight pairs, comma-separated. Weights are
  // positive integers, in proportion to each other (they need not add up
  // to 100). False, with a message naming what is wrong, otherwise.
  static bool Parse(std::string_view text, OpMix* mix, std::string* error);

  // The operation for `random`, a uniform 64-bit number.
  OpKind Pick(uint64_t random) const;
  bool Contains(OpKind kind) const;
  bool empty() const { return weights_.empty(); }
  const std::vector<OpWeight>& weights() const { return weights_; }
  // Back in Parse's syntax.
  std::string ToString() const;

 private:
  std::vector<OpWeight> weights_;
  uint64_t total_ = 0;
};

// What a --workload name stands for.
struct WorkloadPreset {
  OpMix mix;
  KeyOrder keys = KeyOrder::kUniform;  // unless --keys says otherwise
  // Ranges ask for a length drawn uniformly from 1 to the limit (YCSB's
  // scans) instead of exactly the limit.
  bool rangeLengthUniform = false;
  int64_t defaultRangeLimit = 10;
};

// `name` is a --workload value; `mix` the --mix flag ("" if not given).
// --mix needs --workload=mix (or the default --workload). False, with a
// message, for an unknown name or a bad mix.
bool FindWorkloadPreset(const std::string& name, bool nameGiven, const std::string& mix,
                        WorkloadPreset* preset, std::string* error);

// For --help: every workload name and what it does.
std::string WorkloadHelp();

}  // namespace kvraft::bench
