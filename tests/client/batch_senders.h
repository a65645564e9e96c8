#pragma once
// Helpers of the BatchQueue and BatchPump tests: a sender that records
// what travelled together and can hold a batch, and a patient poll.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/kv_batch_queue.h"
#include "tests/client/fake_kv_node.h"

namespace kvraft::client::testing {

// Records each batch's keys and answers every call OK; holds the n-th
// batch (from 0) at holds[n], if given, before answering.
class RecordingSender {
 public:
  explicit RecordingSender(std::map<size_t, Gate*> holds = {}) : holds_(std::move(holds)) {}

  void operator()(const BatchQueue::Batch& batch) {
    size_t n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      n = batches_.size();
      std::vector<std::string> keys;
      for (const auto& c : batch) keys.push_back(c->op.get.key);
      batches_.push_back(keys);
    }
    if (auto hold = holds_.find(n); hold != holds_.end()) hold->second->Wait();
    for (const auto& c : batch) {
      c->delivery = Delivery::kAnswered;
      c->result.__set_getResponse(kvraft::thrift::GetResponse());
      c->result.getResponse.__set_value("value of " + c->op.get.key);
    }
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  const std::map<size_t, Gate*> holds_;
  std::mutex mu_;
  std::vector<std::vector<std::string>> batches_;
};

// True once `holds` does, polled every millisecond; false after kPatience.
inline bool Eventually(const std::function<bool()>& holds) {
  const auto end = std::chrono::steady_clock::now() + kPatience;
  while (!holds()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace kvraft::client::testing
