#include "bench/load_phase.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <glog/logging.h>

#include "bench/random.h"

namespace kvraft::bench {

LoadResult LoadKeys(const WorkloadOptions& options, uint64_t keys, client::KvClient& client,
                    int threads) {
  const auto start = std::chrono::steady_clock::now();
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> loaders;
  for (int t = 0; t < threads; ++t) {
    loaders.emplace_back([&, t] {
      Rng rng(0x10ad + t);
      const std::string value = RandomValue(options.valueSize, rng);
      for (uint64_t n = next++; n < keys; n = next++) {
        const client::Result result = client.Put(MakeKey(n, options.keySize), value);
        if (!result.ok()) {
          LOG_FIRST_N(WARNING, 5) << "load put of key " << n << " failed: " << result.ToString();
          ++failed;
        }
      }
    });
  }
  for (auto& t : loaders) t.join();
  LoadResult result;
  result.failed = failed.load();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace kvraft::bench
