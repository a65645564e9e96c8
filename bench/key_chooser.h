#pragma once
// Which key each operation touches. Keys are numbers in [0, count) (made
// into strings by MakeKey); a KeySpace holds what all clients share, and
// each client draws from a KeyChooser of its own.
//
//   uniform     every key equally likely
//   zipfian     key popularity by ZipfianGenerator (theta --zipf_theta),
//               ranks spread over the key space by a fixed KeyPermutation
//   sequential  client c of C takes keys c, c+C, c+2C, ... (mod count): the
//               clients together walk the keys in order
//   latest      the most recently written keys are hottest: the k-th newest
//               key with the zipfian probability of rank k (YCSB's "latest",
//               for workload D, whose inserts add new keys as it runs)
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "bench/random.h"
#include "bench/zipfian.h"

namespace kvraft::bench {

enum class KeyOrder { kUniform, kZipfian, kSequential, kLatest };

const char* KeyOrderName(KeyOrder order);
// "uniform", "zipfian", "sequential" or "latest"; nullopt for anything else.
std::optional<KeyOrder> ParseKeyOrder(const std::string& name);

// Keys added while the benchmark runs (inserts): numbered on from the ones
// that existed before it, so that a reader of "latest" keys can tell which
// exist. Thread-safe.
class InsertedKeys {
 public:
  // Keys [0, existing) exist before the run.
  explicit InsertedKeys(uint64_t existing);
  // The number of the next new key; each is handed out once.
  uint64_t Claim();
  // The insert of `key` (from Claim) has returned, whether or not it
  // succeeded: a failed insert's key is treated as written, so that one
  // failure does not stop "latest" from advancing.
  void Done(uint64_t key);
  // Keys [0, Existing()) have all been written (or their insert failed):
  // the newest key a read may expect to find is Existing() - 1.
  uint64_t Existing() const { return existing_.load(); }

 private:
  std::atomic<uint64_t> next_;
  std::atomic<uint64_t> existing_;
  std::mutex mu_;
  std::set<uint64_t> doneAhead_;  // inserts that returned before an older one
};

// What the clients share: the distribution over [0, count), its
// precomputed constants, and the keys inserted so far.
class KeySpace {
 public:
  // `theta` matters for zipfian and latest: 0 < theta < 1. Zipfian
  // precomputes zeta over `count` keys here (O(count)).
  KeySpace(KeyOrder order, uint64_t count, double theta, uint64_t existingKeys);

  KeyOrder order() const { return order_; }
  uint64_t count() const { return count_; }
  InsertedKeys& inserted() { return inserted_; }
  const InsertedKeys& inserted() const { return inserted_; }
  const ZipfianGenerator* zipfian() const { return zipfian_.get(); }
  const KeyPermutation& permutation() const { return permutation_; }

 private:
  KeyOrder order_;
  uint64_t count_;
  std::unique_ptr<ZipfianGenerator> zipfian_;  // zipfian and latest only
  // Fixed, not seeded: the hot keys are a property of the key space, the
  // same in every run, so runs can be compared.
  KeyPermutation permutation_;
  InsertedKeys inserted_;
};

// One client's key draws. Not thread-safe.
class KeyChooser {
 public:
  // Client `client` of `clients` (the sequential order interleaves them).
  KeyChooser(const KeySpace& space, int client, int clients);
  uint64_t Next(Rng& rng);

 private:
  const KeySpace& space_;
  uint64_t sequentialNext_;
  uint64_t stride_;
};

}  // namespace kvraft::bench
