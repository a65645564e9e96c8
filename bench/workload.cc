#include "bench/workload.h"

#include <atomic>
#include <thread>
#include <vector>

#include <glog/logging.h>

namespace kvraft::bench {

bool ParseWorkloadKind(const std::string& name, WorkloadKind* kind) {
  if (name == "put") {
    *kind = WorkloadKind::kPut;
  } else if (name == "get") {
    *kind = WorkloadKind::kGet;
  } else {
    return false;
  }
  return true;
}

std::string MakeKey(uint64_t n, size_t size) {
  std::string digits = std::to_string(n);
  if (size == 0) return "";
  const size_t room = size - 1;
  if (digits.size() > room) digits = digits.substr(digits.size() - room);
  return "k" + std::string(room - digits.size(), '0') + digits;
}

namespace {
// Values are random bytes so that nothing on the way (RocksDB's block
// compression in particular) gets an easier job than with real data.
std::string RandomValue(size_t size, std::mt19937_64& rng) {
  std::string value(size, '\0');
  for (char& c : value) c = static_cast<char>('a' + rng() % 26);
  return value;
}

uint64_t KeyRange(const WorkloadOptions& options) {
  return options.kind == WorkloadKind::kGet ? options.readKeys : options.keySpace;
}
}  // namespace

Workload::Workload(const WorkloadOptions& options, client::KvClient& client, uint64_t seed)
    : options_(options), client_(client), rng_(seed), keys_(0, KeyRange(options) - 1) {
  CHECK_GT(KeyRange(options), 0u);
  value_ = RandomValue(options.valueSize, rng_);
}

client::Code Workload::Next() {
  const std::string key = MakeKey(keys_(rng_), options_.keySize);
  switch (options_.kind) {
    case WorkloadKind::kPut:
      return client_.Put(key, value_).code;
    case WorkloadKind::kGet: {
      const client::Result result = client_.Get(key, options_.stale);
      return result.code;
    }
  }
  return client::Code::kInvalidArgument;
}

uint64_t LoadReadKeys(const WorkloadOptions& options, client::KvClient& client, int threads) {
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> loaders;
  for (int t = 0; t < threads; ++t) {
    loaders.emplace_back([&, t] {
      std::mt19937_64 rng(0x10ad + t);
      const std::string value = RandomValue(options.valueSize, rng);
      for (uint64_t n = next++; n < options.readKeys; n = next++) {
        const client::Result result = client.Put(MakeKey(n, options.keySize), value);
        if (!result.ok()) {
          LOG_FIRST_N(WARNING, 5) << "load put failed: " << result.ToString();
          ++failed;
        }
      }
    });
  }
  for (auto& t : loaders) t.join();
  return failed.load();
}

}  // namespace kvraft::bench
