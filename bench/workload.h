#pragma once
// What each benchmark call does: the keys and values of the etcd anchor's
// method (fixed-size keys drawn uniformly from a key space, fixed-size
// values) and one call of the client library per operation.
#include <cstdint>
#include <random>
#include <string>

#include "core/kv_client.h"

namespace kvraft::bench {

enum class WorkloadKind { kPut, kGet };

struct WorkloadOptions {
  WorkloadKind kind = WorkloadKind::kPut;
  uint64_t keySpace = 1000000;  // put: keys drawn uniformly from [0, keySpace)
  uint64_t readKeys = 5000;     // get: keys loaded first, then read uniformly
  size_t keySize = 16;
  size_t valueSize = 256;
  bool stale = false;  // get: any node's applied state instead of a linearizable read
};

// Parses "put" or "get"; false for anything else.
bool ParseWorkloadKind(const std::string& name, WorkloadKind* kind);

// Key number n as exactly `size` bytes: "k" then n in decimal, zero-padded
// (and truncated to its last digits if `size` is too small to hold it).
std::string MakeKey(uint64_t n, size_t size);

// One closed-loop client's calls. Not thread-safe: one per thread.
class Workload {
 public:
  Workload(const WorkloadOptions& options, client::KvClient& client, uint64_t seed);
  // Issues one operation and returns its code. kOk is success; for get,
  // kNotFound counts as an error because every read key was loaded.
  client::Code Next();

 private:
  const WorkloadOptions options_;
  client::KvClient& client_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> keys_;
  std::string value_;
};

// The load phase of `get`: puts keys 0 .. readKeys-1 from `threads` threads.
// Returns the number of puts that failed (after the client's own retries).
uint64_t LoadReadKeys(const WorkloadOptions& options, client::KvClient& client, int threads);

}  // namespace kvraft::bench
