#pragma once
// The load phase: writes the keys that reads, ranges and deletes expect to
// find, before anything is measured.
#include <cstdint>

#include "bench/workload.h"
#include "core/kv_client.h"

namespace kvraft::bench {

struct LoadResult {
  uint64_t failed = 0;  // puts that failed after the client's own retries
  double seconds = 0;
};

// Puts keys 0 .. keys-1 (MakeKey, `options.keySize` bytes) with random
// values of `options.valueSize` bytes, from `threads` threads that share
// the work, so that loading is as parallel as the run itself.
LoadResult LoadKeys(const WorkloadOptions& options, uint64_t keys, client::KvClient& client,
                    int threads);

}  // namespace kvraft::bench
