#pragma once
// What each benchmark call does: fixed-size keys (MakeKey) chosen by a
// KeyChooser, fixed-size values, and an operation picked from the run's
// OpMix, issued as one call of the client library (two for a
// read-modify-write).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "bench/key_chooser.h"
#include "bench/op_mix.h"
#include "bench/random.h"
#include "core/kv_client.h"

namespace kvraft::bench {

struct WorkloadOptions {
  OpMix mix;
  size_t keySize = 16;
  size_t valueSize = 256;
  bool stale = false;        // reads (get, range, rmw's get) from any node's applied state
  int64_t rangeLimit = 10;   // keys per range
  bool rangeLengthUniform = false;  // each range asks for 1..rangeLimit keys instead

  // Whether the mix reads or deletes keys, so that the load phase must
  // write them first.
  bool NeedsLoadedKeys() const;
  // Whether a key may be absent when read: the mix deletes keys.
  bool KeysMayBeMissing() const { return mix.Contains(OpKind::kDelete); }
};

// How many keys operations choose from (the key space) and how many the
// load phase writes first. Flags not given are nullopt.
struct KeyCounts {
  uint64_t keySpace = 0;
  uint64_t loadKeys = 0;
};
// Workloads that read: the key space defaults to --load_keys and that to
// 5,000, and every key of the space must be loaded (a read of a key never
// written would answer NOT_FOUND). Write-only workloads: the key space
// defaults to 1,000,000 and nothing is loaded unless asked. False, with a
// message, when the counts cannot work.
bool ResolveKeyCounts(bool needsLoadedKeys, std::optional<uint64_t> keySpace,
                      std::optional<uint64_t> loadKeys, KeyCounts* counts, std::string* error);

// Key number n as exactly `size` bytes: "k" then n in decimal, zero-padded
// (and truncated to its last digits if `size` is too small to hold it), so
// that the keys' byte order is their numeric order.
std::string MakeKey(uint64_t n, size_t size);

// What became of one operation.
struct OpOutcome {
  OpKind kind = OpKind::kGet;
  client::Code code = client::Code::kOk;
};

// Whether `outcome` is an answer (the cluster did the operation and said
// how it went) rather than an error. Besides kOk: CAS_FAILED for cas, which
// is how a chain learns the current value; NOT_FOUND for delete (the key
// was already deleted) and, when the mix deletes keys, for get and rmw.
bool IsAnswer(const OpOutcome& outcome, bool keysMayBeMissing);

// One client's operations. Not thread-safe: one per client thread.
class Workload {
 public:
  // Client `client` of `clients`; `seed` makes its choices reproducible.
  Workload(const WorkloadOptions& options, KeySpace& keys, client::KvClient& client,
           uint64_t seed, int clientIndex, int clients);
  OpOutcome Next();
  // Next, without waiting: the client's asynchronous calls, and `done`
  // gets the outcome on one of the client's threads. One at a time per
  // Workload. Not for ranges, which have no asynchronous call.
  void NextAsync(std::function<void(OpOutcome)> done);
  // Whether NextAsync can do every operation of `mix`.
  static bool AsyncCan(const OpMix& mix) { return !mix.Contains(OpKind::kRange); }

 private:
  client::Code Cas(uint64_t key);
  // A CAS of `key` in two halves: the value it expects (nullopt: absent),
  // and what its result teaches about the key's value.
  std::optional<std::string> CasExpected(uint64_t key);
  void CasLearn(uint64_t key, std::string swappedIn, const client::Result& r);
  client::Code Range(uint64_t key);
  client::Code Insert();
  client::Code ReadModifyWrite(uint64_t key);
  // A value no other write has used, for the CAS chains: the client's
  // number and a counter, padded to the value size.
  std::string FreshValue();

  const WorkloadOptions options_;
  KeySpace& keys_;
  client::KvClient& client_;
  Rng rng_;
  KeyChooser chooser_;
  const int clientIndex_;
  std::string value_;
  uint64_t written_ = 0;
  // The value this client last wrote to or learned of each key it CASed
  // (absent: it expects the key to be absent). Bounded: when full it is
  // cleared, and each forgotten key costs one CAS_FAILED to learn again.
  std::unordered_map<uint64_t, std::string> casValues_;
  static constexpr size_t kMaxCasValues = 1 << 16;
};

// A value of `size` random lowercase letters. Random bytes so that nothing
// on the way (RocksDB's block compression in particular) gets an easier
// job than with real data.
std::string RandomValue(size_t size, Rng& rng);

}  // namespace kvraft::bench
