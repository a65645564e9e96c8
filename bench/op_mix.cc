#include "bench/op_mix.h"

#include <charconv>

#include <glog/logging.h>

#include "bench/random.h"

namespace kvraft::bench {

namespace {

constexpr OpKind kAllKinds[] = {OpKind::kGet,    OpKind::kPut,   OpKind::kAppend,
                                OpKind::kCas,    OpKind::kDelete, OpKind::kRange,
                                OpKind::kInsert, OpKind::kReadModifyWrite};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string KindList() {
  std::string names;
  for (OpKind k : kAllKinds) names += std::string(names.empty() ? "" : ", ") + OpKindName(k);
  return names;
}

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kGet: return "get";
    case OpKind::kPut: return "put";
    case OpKind::kAppend: return "append";
    case OpKind::kCas: return "cas";
    case OpKind::kDelete: return "delete";
    case OpKind::kRange: return "range";
    case OpKind::kInsert: return "insert";
    case OpKind::kReadModifyWrite: return "rmw";
  }
  return "unknown";
}

std::optional<OpKind> ParseOpKind(std::string_view name) {
  for (OpKind k : kAllKinds) {
    if (name == OpKindName(k)) return k;
  }
  return std::nullopt;
}

OpMix::OpMix(std::vector<OpWeight> weights) : weights_(std::move(weights)) {
  for (const OpWeight& w : weights_) {
    CHECK_GT(w.weight, 0u) << OpKindName(w.kind);
    total_ += w.weight;
  }
}

bool OpMix::Parse(std::string_view text, OpMix* mix, std::string* error) {
  std::vector<OpWeight> weights;
  const std::string whole(text);
  if (Trim(text).empty()) {
    *error = "the mix is empty: give operation:weight pairs, e.g. get:95,put:5";
    return false;
  }
  // Every comma separates two items: "get:95," has an empty second one.
  for (bool last = false; !last;) {
    const size_t comma = text.find(',');
    const std::string_view item = Trim(text.substr(0, comma));
    last = comma == std::string_view::npos;
    if (!last) text = text.substr(comma + 1);
    const size_t colon = item.find(':');
    if (item.empty() || colon == std::string_view::npos) {
      *error = "'" + std::string(item) + "' in mix '" + whole +
               "' is not operation:weight (e.g. get:95)";
      return false;
    }
    const std::string_view name = Trim(item.substr(0, colon));
    const std::string_view number = Trim(item.substr(colon + 1));
    const std::optional<OpKind> kind = ParseOpKind(name);
    if (!kind) {
      *error = "unknown operation '" + std::string(name) + "' in mix '" + whole +
               "'; the operations are " + KindList();
      return false;
    }
    uint64_t weight = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), weight);
    if (ec != std::errc() || end != number.data() + number.size() || weight == 0 ||
        weight > 1000000) {
      *error = "the weight of " + std::string(name) + " in mix '" + whole + "' is '" +
               std::string(number) + "'; it must be a whole number from 1 to 1000000";
      return false;
    }
    for (const OpWeight& w : weights) {
      if (w.kind == *kind) {
        *error = std::string(name) + " appears twice in mix '" + whole + "'";
        return false;
      }
    }
    weights.push_back(OpWeight{*kind, weight});
  }
  *mix = OpMix(std::move(weights));
  return true;
}

OpKind OpMix::Pick(uint64_t random) const {
  CHECK(!weights_.empty());
  uint64_t r = Bounded(random, total_);
  for (const OpWeight& w : weights_) {
    if (r < w.weight) return w.kind;
    r -= w.weight;
  }
  return weights_.back().kind;
}

bool OpMix::Contains(OpKind kind) const {
  for (const OpWeight& w : weights_) {
    if (w.kind == kind) return true;
  }
  return false;
}

std::string OpMix::ToString() const {
  std::string s;
  for (const OpWeight& w : weights_) {
    s += std::string(s.empty() ? "" : ",") + OpKindName(w.kind) + ":" + std::to_string(w.weight);
  }
  return s;
}

namespace {

struct NamedPreset {
  const char* name;
  const char* help;
  WorkloadPreset preset;
};

std::vector<NamedPreset> Presets() {
  auto only = [](OpKind k) { return OpMix({OpWeight{k, 1}}); };
  auto two = [](OpKind a, uint64_t wa, OpKind b, uint64_t wb) {
    return OpMix({OpWeight{a, wa}, OpWeight{b, wb}});
  };
  const KeyOrder uniform = KeyOrder::kUniform;
  const KeyOrder zipfian = KeyOrder::kZipfian;
  return {
      {"put", "Put of chosen keys (no load phase).", {only(OpKind::kPut), uniform}},
      {"get", "Get of loaded keys (linearizable; --stale: any node's state).",
       {only(OpKind::kGet), uniform}},
      {"append",
       "Append of --value_size bytes to chosen keys (no load phase). A key's value grows with "
       "every append and one past kvd's --max_value_bytes fails TOO_LARGE: keep runs on skewed "
       "keys short.",
       {only(OpKind::kAppend), uniform}},
      {"cas",
       "CompareAndSwap chains, read-free: each client swaps a key from the value it last wrote "
       "or learned there (absent at first) to a new one. CAS_FAILED tells the current value, "
       "which the next swap of that key expects; it is counted as an answer, not an error.",
       {only(OpKind::kCas), uniform}},
      {"delete",
       "Delete of loaded keys. Deleting a key already deleted answers NOT_FOUND, counted as an "
       "answer; --keys=sequential deletes each loaded key once before repeating.",
       {only(OpKind::kDelete), uniform}},
      {"range", "Range of --range_limit keys (default 10) from a chosen loaded key.",
       {only(OpKind::kRange), uniform}},
      {"mix", "The operations and weights of --mix, e.g. --mix=get:95,put:5.", {OpMix(), uniform}},
      {"ycsb-a", "YCSB A, update heavy: 50% get, 50% put (update) of loaded keys; zipfian.",
       {two(OpKind::kGet, 50, OpKind::kPut, 50), zipfian}},
      {"ycsb-b", "YCSB B, read mostly: 95% get, 5% put; zipfian.",
       {two(OpKind::kGet, 95, OpKind::kPut, 5), zipfian}},
      {"ycsb-c", "YCSB C, read only: 100% get; zipfian.", {only(OpKind::kGet), zipfian}},
      {"ycsb-d",
       "YCSB D, read latest: 95% get, 5% insert of new keys after the loaded ones; reads favour "
       "the newest keys (--keys=latest).",
       {two(OpKind::kGet, 95, OpKind::kInsert, 5), KeyOrder::kLatest}},
      {"ycsb-e",
       "YCSB E, short ranges: 95% range from a zipfian-chosen key, of a length drawn uniformly "
       "from 1 to --range_limit (default 100, YCSB's maxscanlength), 5% insert.",
       {two(OpKind::kRange, 95, OpKind::kInsert, 5), zipfian, /*rangeLengthUniform=*/true,
        /*defaultRangeLimit=*/100}},
      {"ycsb-f",
       "YCSB F, read-modify-write: 50% get, 50% rmw (a get, then a put of that key, timed as "
       "one operation); zipfian.",
       {two(OpKind::kGet, 50, OpKind::kReadModifyWrite, 50), zipfian}},
  };
}

}  // namespace

bool FindWorkloadPreset(const std::string& name, bool nameGiven, const std::string& mix,
                        WorkloadPreset* preset, std::string* error) {
  if (!mix.empty()) {
    if (nameGiven && name != "mix") {
      *error = "--mix goes with --workload=mix (or no --workload), not --workload=" + name;
      return false;
    }
    *preset = WorkloadPreset();
    return OpMix::Parse(mix, &preset->mix, error);
  }
  if (name == "mix") {
    *error = "--workload=mix needs --mix, e.g. --mix=get:95,put:5";
    return false;
  }
  std::string names;
  for (const NamedPreset& p : Presets()) {
    if (name == p.name) {
      *preset = p.preset;
      return true;
    }
    names += std::string(names.empty() ? "" : ", ") + p.name;
  }
  *error = "unknown --workload '" + name + "'; the workloads are " + names;
  return false;
}

std::string WorkloadHelp() {
  std::string help;
  for (const NamedPreset& p : Presets()) help += std::string("  ") + p.name + ": " + p.help + "\n";
  return help;
}

}  // namespace kvraft::bench
