#include "bench/workload.h"

#include <glog/logging.h>

namespace kvraft::bench {

bool WorkloadOptions::NeedsLoadedKeys() const {
  return mix.Contains(OpKind::kGet) || mix.Contains(OpKind::kRange) ||
         mix.Contains(OpKind::kDelete) || mix.Contains(OpKind::kReadModifyWrite);
}

bool ResolveKeyCounts(bool needsLoadedKeys, std::optional<uint64_t> keySpace,
                      std::optional<uint64_t> loadKeys, KeyCounts* counts, std::string* error) {
  KeyCounts c;
  if (needsLoadedKeys) {
    c.keySpace = keySpace.value_or(loadKeys.value_or(5000));
    c.loadKeys = loadKeys.value_or(c.keySpace);
  } else {
    c.keySpace = keySpace.value_or(1000000);
    c.loadKeys = loadKeys.value_or(0);
  }
  if (c.keySpace == 0) {
    *error = "--key_space must be at least 1";
    return false;
  }
  if (needsLoadedKeys && c.loadKeys < c.keySpace) {
    *error = "--load_keys=" + std::to_string(c.loadKeys) + " is less than --key_space=" +
             std::to_string(c.keySpace) +
             ": this workload reads its keys, and a key the load phase did not write would "
             "answer NOT_FOUND. Load the whole key space (leave --load_keys out) or make the key "
             "space smaller";
    return false;
  }
  *counts = c;
  return true;
}

std::string MakeKey(uint64_t n, size_t size) {
  std::string digits = std::to_string(n);
  if (size == 0) return "";
  const size_t room = size - 1;
  if (digits.size() > room) digits = digits.substr(digits.size() - room);
  return "k" + std::string(room - digits.size(), '0') + digits;
}

bool IsAnswer(const OpOutcome& outcome, bool keysMayBeMissing) {
  switch (outcome.code) {
    case client::Code::kOk:
      return true;
    case client::Code::kCasFailed:
      return outcome.kind == OpKind::kCas;
    case client::Code::kNotFound:
      return outcome.kind == OpKind::kDelete ||
             (keysMayBeMissing &&
              (outcome.kind == OpKind::kGet || outcome.kind == OpKind::kReadModifyWrite));
    default:
      return false;
  }
}

std::string RandomValue(size_t size, Rng& rng) {
  std::string value(size, '\0');
  for (char& c : value) c = static_cast<char>('a' + rng() % 26);
  return value;
}

Workload::Workload(const WorkloadOptions& options, KeySpace& keys, client::KvClient& client,
                   uint64_t seed, int clientIndex, int clients)
    : options_(options),
      keys_(keys),
      client_(client),
      rng_(seed),
      chooser_(keys, clientIndex, clients),
      clientIndex_(clientIndex) {
  CHECK(!options.mix.empty());
  value_ = RandomValue(options.valueSize, rng_);
}

OpOutcome Workload::Next() {
  OpOutcome outcome;
  outcome.kind = options_.mix.Pick(rng_());
  if (outcome.kind == OpKind::kInsert) {
    outcome.code = Insert();
    return outcome;
  }
  const uint64_t key = chooser_.Next(rng_);
  switch (outcome.kind) {
    case OpKind::kGet:
      outcome.code = client_.Get(MakeKey(key, options_.keySize), options_.stale).code;
      break;
    case OpKind::kPut:
      outcome.code = client_.Put(MakeKey(key, options_.keySize), value_).code;
      break;
    case OpKind::kAppend:
      outcome.code = client_.Append(MakeKey(key, options_.keySize), value_).code;
      break;
    case OpKind::kCas:
      outcome.code = Cas(key);
      break;
    case OpKind::kDelete:
      outcome.code = client_.Delete(MakeKey(key, options_.keySize)).code;
      break;
    case OpKind::kRange:
      outcome.code = Range(key);
      break;
    case OpKind::kReadModifyWrite:
      outcome.code = ReadModifyWrite(key);
      break;
    case OpKind::kInsert:
      break;  // handled above: it chooses no existing key
  }
  return outcome;
}

client::Code Workload::Cas(uint64_t key) {
  const std::optional<std::string> expected = CasExpected(key);
  std::string next = FreshValue();
  const client::Result r = client_.CompareAndSwap(MakeKey(key, options_.keySize), expected, next);
  CasLearn(key, std::move(next), r);
  return r.code;
}

std::optional<std::string> Workload::CasExpected(uint64_t key) {
  if (casValues_.size() >= kMaxCasValues) casValues_.clear();
  const auto known = casValues_.find(key);
  if (known == casValues_.end()) return std::nullopt;
  return known->second;
}

void Workload::CasLearn(uint64_t key, std::string swappedIn, const client::Result& r) {
  switch (r.code) {
    case client::Code::kOk:
      casValues_[key] = std::move(swappedIn);
      break;
    case client::Code::kCasFailed:
      // The answer carries the current value (nullopt: absent): the next
      // swap of this key starts from it, without a read.
      if (r.value) {
        casValues_[key] = *r.value;
      } else {
        casValues_.erase(key);
      }
      break;
    default:
      // A failed swap may or may not have been applied: start over from
      // "absent", and let CAS_FAILED tell the truth.
      casValues_.erase(key);
      break;
  }
}

void Workload::NextAsync(std::function<void(OpOutcome)> done) {
  const OpKind kind = options_.mix.Pick(rng_());
  const auto tell = [kind, done = std::move(done)](const client::Result& r) {
    done(OpOutcome{kind, r.code});
  };
  if (kind == OpKind::kInsert) {
    const uint64_t key = keys_.inserted().Claim();
    client_.PutAsync(MakeKey(key, options_.keySize), value_,
                     [this, key, tell](const client::Result& r) {
                       keys_.inserted().Done(key);
                       tell(r);
                     });
    return;
  }
  const uint64_t key = chooser_.Next(rng_);
  std::string name = MakeKey(key, options_.keySize);
  switch (kind) {
    case OpKind::kGet:
      client_.GetAsync(name, options_.stale, tell);
      return;
    case OpKind::kPut:
      client_.PutAsync(name, value_, tell);
      return;
    case OpKind::kAppend:
      client_.AppendAsync(name, value_, tell);
      return;
    case OpKind::kDelete:
      client_.DeleteAsync(name, tell);
      return;
    case OpKind::kCas: {
      const std::optional<std::string> expected = CasExpected(key);
      std::string next = FreshValue();
      client_.CompareAndSwapAsync(name, expected, next,
                                  [this, key, next, tell](const client::Result& r) {
                                    CasLearn(key, next, r);
                                    tell(r);
                                  });
      return;
    }
    case OpKind::kReadModifyWrite:
      client_.GetAsync(name, options_.stale,
                       [this, name, tell](const client::Result& read) {
                         if (!read.ok()) {
                           tell(read);
                           return;
                         }
                         client_.PutAsync(name, FreshValue(), tell);
                       });
      return;
    case OpKind::kRange:
    case OpKind::kInsert:
      break;
  }
  LOG(FATAL) << "Workload::NextAsync: no asynchronous call for " << OpKindName(kind);
}

client::Code Workload::Range(uint64_t key) {
  const int64_t limit = options_.rangeLengthUniform
                            ? 1 + static_cast<int64_t>(Bounded(rng_(), options_.rangeLimit))
                            : options_.rangeLimit;
  return client_.Range(MakeKey(key, options_.keySize), "", limit, options_.stale).code;
}

client::Code Workload::Insert() {
  const uint64_t key = keys_.inserted().Claim();
  const client::Code code = client_.Put(MakeKey(key, options_.keySize), value_).code;
  keys_.inserted().Done(key);
  return code;
}

client::Code Workload::ReadModifyWrite(uint64_t key) {
  const std::string name = MakeKey(key, options_.keySize);
  const client::Result read = client_.Get(name, options_.stale);
  if (!read.ok()) return read.code;
  return client_.Put(name, FreshValue()).code;
}

std::string Workload::FreshValue() {
  std::string value = "c" + std::to_string(clientIndex_) + "." + std::to_string(++written_) + ".";
  if (value.size() < value_.size()) value += value_.substr(value.size());
  return value;
}

}  // namespace kvraft::bench
