#include "bench/key_chooser.h"

#include <algorithm>

#include <glog/logging.h>

namespace kvraft::bench {

const char* KeyOrderName(KeyOrder order) {
  switch (order) {
    case KeyOrder::kUniform: return "uniform";
    case KeyOrder::kZipfian: return "zipfian";
    case KeyOrder::kSequential: return "sequential";
    case KeyOrder::kLatest: return "latest";
  }
  return "unknown";
}

std::optional<KeyOrder> ParseKeyOrder(const std::string& name) {
  for (KeyOrder o : {KeyOrder::kUniform, KeyOrder::kZipfian, KeyOrder::kSequential,
                     KeyOrder::kLatest}) {
    if (name == KeyOrderName(o)) return o;
  }
  return std::nullopt;
}

InsertedKeys::InsertedKeys(uint64_t existing) : next_(existing), existing_(existing) {}

uint64_t InsertedKeys::Claim() { return next_++; }

void InsertedKeys::Done(uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t existing = existing_.load();
  if (key != existing) {
    doneAhead_.insert(key);
    return;
  }
  ++existing;
  while (!doneAhead_.empty() && *doneAhead_.begin() == existing) {
    doneAhead_.erase(doneAhead_.begin());
    ++existing;
  }
  existing_ = existing;
}

KeySpace::KeySpace(KeyOrder order, uint64_t count, double theta, uint64_t existingKeys)
    : order_(order),
      count_(count),
      permutation_(count, /*key=*/0x6b65797370616365ULL),
      inserted_(existingKeys) {
  CHECK_GT(count, 0u);
  if (order == KeyOrder::kZipfian || order == KeyOrder::kLatest) {
    zipfian_ = std::make_unique<ZipfianGenerator>(count, theta);
  }
}

KeyChooser::KeyChooser(const KeySpace& space, int client, int clients)
    : space_(space),
      sequentialNext_(static_cast<uint64_t>(client)),
      stride_(static_cast<uint64_t>(std::max(clients, 1))) {}

uint64_t KeyChooser::Next(Rng& rng) {
  const uint64_t count = space_.count();
  switch (space_.order()) {
    case KeyOrder::kUniform:
      return Bounded(rng(), count);
    case KeyOrder::kZipfian:
      return space_.permutation()(space_.zipfian()->Rank(UnitInterval(rng())));
    case KeyOrder::kSequential: {
      const uint64_t key = sequentialNext_ % count;
      sequentialNext_ += stride_;
      return key;
    }
    case KeyOrder::kLatest: {
      // Rank k is the k-th newest key; ranks reach back over `count` keys,
      // the loaded ones, which always exist.
      const uint64_t existing = space_.inserted().Existing();
      if (existing == 0) return 0;
      const uint64_t newest = existing - 1;
      const uint64_t rank = space_.zipfian()->Rank(UnitInterval(rng()));
      return newest - std::min(rank, newest);
    }
  }
  return 0;
}

}  // namespace kvraft::bench
