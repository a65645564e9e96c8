// BatchPump on its own: its threads send, calls made while batches are out
// travel together, and every call is done exactly once, never inside
// Submit, whether answered, out of time, or left when the pump closes.
#include "core/kv_batch_pump.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/client/batch_senders.h"
#include "tests/client/fake_kv_node.h"

namespace kvraft::client {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::Gate;
using testing::kPatience;
using testing::RecordingSender;

// What became of the calls: each one's delivery and the thread that was
// told, by key; a key told twice is recorded as such.
class Outcomes {
 public:
  std::shared_ptr<BatchCall> Call(const std::string& key,
                                  std::chrono::milliseconds timeout = kPatience) {
    auto call = std::make_shared<BatchCall>();
    call->op.__set_get(kvraft::thrift::GetRequest());
    call->op.get.key = key;
    call->bytes = 1;
    call->end = BatchCall::Clock::now() + timeout;
    call->done = [this](BatchCall& c) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!deliveries_.emplace(c.op.get.key, c.delivery).second) twice_.insert(c.op.get.key);
      threads_[c.op.get.key] = std::this_thread::get_id();
      outcomes_[c.op.get.key] = c.outcome;
      told_.notify_all();
    };
    return call;
  }
  // False if `n` calls were not done within kPatience.
  bool WaitDone(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return told_.wait_for(lock, kPatience, [&] { return deliveries_.size() >= n; });
  }
  std::map<std::string, Delivery> deliveries() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::thread::id> ids;
    for (const auto& [key, id] : threads_) ids.insert(id);
    return ids;
  }
  std::string outcome(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_[key];
  }
  std::set<std::string> twice() {
    std::lock_guard<std::mutex> lock(mu_);
    return twice_;
  }

 private:
  std::mutex mu_;
  std::condition_variable told_;
  std::map<std::string, Delivery> deliveries_;
  std::map<std::string, std::thread::id> threads_;
  std::map<std::string, std::string> outcomes_;
  std::set<std::string> twice_;
};

TEST(BatchPump, CallsMadeWhileABatchIsOutTravelTogetherAndTheSendersTellThem) {
  Gate gate;
  RecordingSender sender({{0, &gate}});
  Outcomes outcomes;
  {
    BatchPump pump({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024},
                   [&](const BatchQueue::Batch& b) { sender(b); });
    pump.Submit(outcomes.Call("a"));
    ASSERT_TRUE(Eventually([&] { return sender.batches().size() == 1; }));
    for (const char* key : {"b", "c", "d"}) pump.Submit(outcomes.Call(key));
    // Nothing is told inside Submit, nor before its batch comes back.
    EXPECT_TRUE(outcomes.deliveries().empty());
    gate.Open();
    ASSERT_TRUE(outcomes.WaitDone(4));
  }
  const auto batches = sender.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<std::string>{"a"});
  EXPECT_EQ(batches[1], (std::vector<std::string>{"b", "c", "d"}));
  for (const auto& [key, delivery] : outcomes.deliveries()) {
    EXPECT_EQ(delivery, Delivery::kAnswered) << key;
  }
  EXPECT_EQ(outcomes.threads().count(std::this_thread::get_id()), 0u);
  EXPECT_TRUE(outcomes.twice().empty());
}

// A client that makes its next call from its last one's done (kvbench's
// closed loop): the sender that told the call is left to send the next one
// (no other sender is woken for it), so the chain must never stall, with
// one batch out at a time or more.
TEST(BatchPump, CallsMadeFromTheirPredecessorsDoneAllGoOutInOrder) {
  for (size_t maxInFlight : {1, 2}) {
    std::mutex mu;
    std::vector<std::string> sent;
    constexpr int kChain = 200;
    Outcomes outcomes;
    {
      BatchPump pump({.maxInFlight = maxInFlight, .maxOps = 16, .maxBytes = 1024},
                     [&](const BatchQueue::Batch& b) {
                       {
                         std::lock_guard<std::mutex> lock(mu);
                         for (const auto& c : b) sent.push_back(c->op.get.key);
                       }
                       for (const auto& c : b) c->delivery = Delivery::kAnswered;
                     });
      std::function<void(int)> submit = [&](int n) {
        std::shared_ptr<BatchCall> call = outcomes.Call(std::to_string(n));
        call->done = [&, n, record = call->done](BatchCall& c) {
          record(c);
          if (n + 1 < kChain) submit(n + 1);
        };
        pump.Submit(call);
      };
      submit(0);
      ASSERT_TRUE(outcomes.WaitDone(kChain)) << "the chain stalled with " << maxInFlight
                                             << " batches allowed out";
    }
    std::vector<std::string> expected;
    for (int n = 0; n < kChain; ++n) expected.push_back(std::to_string(n));
    EXPECT_EQ(sent, expected);
    for (const auto& [key, delivery] : outcomes.deliveries()) {
      EXPECT_EQ(delivery, Delivery::kAnswered) << key;
    }
    EXPECT_TRUE(outcomes.twice().empty());
  }
}

TEST(BatchPump, AnotherBatchGoesOutBesideTheFirstByTheSameRuleAsTheQueue) {
  // Two batches may be out. Before any came back the pump knows of no
  // calls kept going, so one waiting call is enough (BatchQueue::MaySend):
  // it goes out beside the held batch, on the pump's other thread, and is
  // told while the first is still held.
  Gate gate;
  RecordingSender sender({{0, &gate}});
  Outcomes outcomes;
  {
    BatchPump pump({.maxInFlight = 2, .maxOps = 16, .maxBytes = 1024, .anotherBatchCap = 2},
                   [&](const BatchQueue::Batch& b) { sender(b); });
    pump.Submit(outcomes.Call("a"));
    ASSERT_TRUE(Eventually([&] { return sender.batches().size() == 1; }));
    pump.Submit(outcomes.Call("b"));
    ASSERT_TRUE(Eventually([&] { return sender.batches().size() == 2; }));
    ASSERT_TRUE(outcomes.WaitDone(1));
    EXPECT_EQ(outcomes.deliveries().count("b"), 1u);
    gate.Open();
    ASSERT_TRUE(outcomes.WaitDone(2));
  }
  EXPECT_EQ(sender.batches(), (std::vector<std::vector<std::string>>{{"a"}, {"b"}}));
}

TEST(BatchPump, AQueuedCallWhoseTimeRunsOutIsDoneUnsentAndTheRestStillGo) {
  Gate gate;
  RecordingSender sender({{0, &gate}});
  Outcomes outcomes;
  {
    BatchPump pump({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024},
                   [&](const BatchQueue::Batch& b) { sender(b); });
    pump.Submit(outcomes.Call("held"));
    ASSERT_TRUE(Eventually([&] { return sender.batches().size() == 1; }));
    // The held batch keeps the only slot; the short call's time runs out,
    // and it is told so then, while the batch is still held.
    pump.Submit(outcomes.Call("short", 20ms));
    ASSERT_TRUE(outcomes.WaitDone(1));
    EXPECT_EQ(sender.batches().size(), 1u);
    EXPECT_EQ(outcomes.deliveries().at("short"), Delivery::kNoFreeConnection);
    EXPECT_NE(outcomes.outcome("short").find("until its time ran out"), std::string::npos);
    pump.Submit(outcomes.Call("later"));
    gate.Open();
    ASSERT_TRUE(outcomes.WaitDone(3));
  }
  EXPECT_EQ(outcomes.deliveries().at("later"), Delivery::kAnswered);
  EXPECT_EQ(sender.batches(), (std::vector<std::vector<std::string>>{{"held"}, {"later"}}));
  EXPECT_TRUE(outcomes.twice().empty());
}

TEST(BatchPump, ClosingDoesTheQueuedCallsUnsentAndFinishesTheBatchOut) {
  Gate gate;
  RecordingSender sender({{0, &gate}});
  Outcomes outcomes;
  std::atomic<bool> closed{false};
  std::thread opener;
  {
    BatchPump pump({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024},
                   [&](const BatchQueue::Batch& b) { sender(b); });
    pump.Submit(outcomes.Call("out"));
    ASSERT_TRUE(Eventually([&] { return sender.batches().size() == 1; }));
    pump.Submit(outcomes.Call("queued"));
    // Let the held batch go only once the pump is being destroyed.
    opener = std::thread([&] {
      while (!closed.load()) std::this_thread::sleep_for(1ms);
      gate.Open();
    });
    closed.store(true);
  }
  opener.join();
  const auto deliveries = outcomes.deliveries();
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries.at("out"), Delivery::kAnswered);
  // Depending on when the destructor ran, "queued" either went out in the
  // next batch or was done unsent; it was done once either way.
  if (deliveries.at("queued") != Delivery::kAnswered) {
    EXPECT_EQ(deliveries.at("queued"), Delivery::kNoFreeConnection);
    EXPECT_EQ(outcomes.outcome("queued"), "the client was closed before the call was sent");
  }
  EXPECT_TRUE(outcomes.twice().empty());
}

TEST(BatchPump, ManyCallsFromManyThreadsAreEachDoneOnce) {
  RecordingSender sender;
  Outcomes outcomes;
  constexpr int kThreads = 8, kPerThread = 200;
  {
    BatchPump pump({.maxInFlight = 2, .maxOps = 32, .maxBytes = 1 << 20},
                   [&](const BatchQueue::Batch& b) { sender(b); });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          pump.Submit(outcomes.Call(std::to_string(t) + "." + std::to_string(i)));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(outcomes.WaitDone(kThreads * kPerThread));
  }
  EXPECT_EQ(outcomes.deliveries().size(), size_t{kThreads * kPerThread});
  EXPECT_TRUE(outcomes.twice().empty());
  size_t sent = 0;
  for (const auto& b : sender.batches()) {
    EXPECT_LE(b.size(), 32u);
    sent += b.size();
  }
  EXPECT_EQ(sent, size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace kvraft::client
