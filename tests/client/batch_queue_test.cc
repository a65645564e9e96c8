// BatchQueue on its own: who sends, what travels together, and what a call
// that runs out of time gets. The sender here is a test function, so every
// hand-off is observed rather than timed.
#include "core/kv_batch_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
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

std::shared_ptr<BatchCall> CallFor(const std::string& key, std::chrono::milliseconds timeout = kPatience,
                                   size_t bytes = 1) {
  auto call = std::make_shared<BatchCall>();
  call->op.__set_get(kvraft::thrift::GetRequest());
  call->op.get.key = key;
  call->bytes = bytes;
  call->end = BatchCall::Clock::now() + timeout;
  return call;
}

// Runs `call` on its own thread; the future holds its delivery.
std::future<Delivery> RunAsync(BatchQueue& queue, std::shared_ptr<BatchCall> call,
                               const BatchQueue::Sender& send) {
  return std::async(std::launch::async, [&queue, call, send] {
    std::string outcome;
    return queue.Run(call, send, &outcome);
  });
}

bool WaitSent(RecordingSender& sender, size_t batches) {
  return Eventually([&] { return sender.batches().size() == batches; });
}

bool WaitQueued(const BatchQueue& queue, size_t n) {
  return Eventually([&] { return queue.queued() == n; });
}

TEST(BatchQueue, ALoneCallGoesOutAtOnceOnItsOwnThread) {
  BatchQueue queue({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024});
  RecordingSender sender;
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id sentFrom;
  auto call = CallFor("a");
  std::string outcome;
  EXPECT_EQ(queue.Run(call,
                      [&](const BatchQueue::Batch& b) {
                        sentFrom = std::this_thread::get_id();
                        sender(b);
                      },
                      &outcome),
            Delivery::kAnswered);
  EXPECT_EQ(sentFrom, caller);
  EXPECT_EQ(call->result.getResponse.value, "value of a");
  EXPECT_EQ(sender.batches(), (std::vector<std::vector<std::string>>{{"a"}}));
  EXPECT_EQ(queue.queued(), 0u);
}

TEST(BatchQueue, CallsMadeWhileTheBatchesAreOutTravelTogetherInTheNext) {
  BatchQueue queue({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024});
  Gate gate;
  RecordingSender recorder({{0, &gate}});
  const BatchQueue::Sender send = [&](const BatchQueue::Batch& b) { recorder(b); };
  auto first = RunAsync(queue, CallFor("a"), send);
  ASSERT_TRUE(WaitSent(recorder, 1));
  // "a" is out and held; these three wait for it to come back.
  std::vector<std::shared_ptr<BatchCall>> later = {CallFor("b"), CallFor("c"), CallFor("d")};
  std::vector<std::future<Delivery>> waiting;
  for (auto& c : later) waiting.push_back(RunAsync(queue, c, send));
  ASSERT_TRUE(WaitQueued(queue, 3));
  gate.Open();
  EXPECT_EQ(first.get(), Delivery::kAnswered);
  for (size_t i = 0; i < later.size(); ++i) {
    EXPECT_EQ(waiting[i].get(), Delivery::kAnswered);
    EXPECT_EQ(later[i]->result.getResponse.value, "value of " + later[i]->op.get.key);
  }
  const auto batches = recorder.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<std::string>{"a"});
  EXPECT_EQ(std::set<std::string>(batches[1].begin(), batches[1].end()),
            (std::set<std::string>{"b", "c", "d"}));
}

TEST(BatchQueue, AnotherBatchGoesOutOnceHalfTheCallsKeptGoingWaitUpToTheCap) {
  for (const size_t cap : {size_t{8}, size_t{2}}) {
    SCOPED_TRACE("anotherBatchCap " + std::to_string(cap));
    BatchQueue queue({.maxInFlight = 2, .maxOps = 16, .maxBytes = 1024, .anotherBatchCap = cap});
    Gate holdA, holdB, holdCde;
    RecordingSender recorder({{0, &holdA}, {1, &holdB}, {2, &holdCde}});
    const BatchQueue::Sender send = [&](const BatchQueue::Batch& b) { recorder(b); };
    auto a = RunAsync(queue, CallFor("a"), send);
    ASSERT_TRUE(WaitSent(recorder, 1));
    // No batch has come back yet, so nothing is known of how many calls the
    // client keeps going: a second call goes out beside the first at once.
    auto b = RunAsync(queue, CallFor("b"), send);
    ASSERT_TRUE(WaitSent(recorder, 2));
    std::vector<std::future<Delivery>> cde;
    for (const char* key : {"c", "d", "e"}) cde.push_back(RunAsync(queue, CallFor(key), send));
    ASSERT_TRUE(WaitQueued(queue, 3));
    // "b" comes back with 5 calls going (a, b and the three queued): the
    // three queued are enough, and go together.
    holdB.Open();
    ASSERT_TRUE(WaitSent(recorder, 3));
    EXPECT_EQ(b.get(), Delivery::kAnswered);
    auto f = RunAsync(queue, CallFor("f"), send);
    ASSERT_TRUE(WaitQueued(queue, 1));
    // c, d and e come back with 5 going again (a, c, d, e, f): another
    // batch now waits for 3 calls, or for the cap if it is lower.
    holdCde.Open();
    for (auto& call : cde) EXPECT_EQ(call.get(), Delivery::kAnswered);
    EXPECT_EQ(queue.queued(), 1u);
    EXPECT_EQ(recorder.batches().size(), 3u);
    std::vector<std::future<Delivery>> rest;
    rest.push_back(RunAsync(queue, CallFor("g"), send));
    if (cap > 2) {
      ASSERT_TRUE(WaitQueued(queue, 2));
      EXPECT_EQ(recorder.batches().size(), 3u);
      rest.push_back(RunAsync(queue, CallFor("h"), send));
    }
    ASSERT_TRUE(WaitSent(recorder, 4));
    for (auto& call : rest) EXPECT_EQ(call.get(), Delivery::kAnswered);
    EXPECT_EQ(f.get(), Delivery::kAnswered);
    // A lone linearizable read waits beside the held "a"; a quick call (a
    // stale read) sends a batch at once, and takes it along.
    auto i = RunAsync(queue, CallFor("i"), send);
    ASSERT_TRUE(WaitQueued(queue, 1));
    EXPECT_EQ(recorder.batches().size(), 4u);
    auto quick = CallFor("quick");
    quick->op.get.stale = true;
    std::string outcome;
    EXPECT_EQ(queue.Run(quick, send, &outcome), Delivery::kAnswered);
    EXPECT_EQ(i.get(), Delivery::kAnswered);
    holdA.Open();
    EXPECT_EQ(a.get(), Delivery::kAnswered);

    const auto batches = recorder.batches();
    ASSERT_EQ(batches.size(), 5u);
    EXPECT_EQ(batches[0], std::vector<std::string>{"a"});
    EXPECT_EQ(batches[1], std::vector<std::string>{"b"});
    EXPECT_EQ(std::set<std::string>(batches[2].begin(), batches[2].end()),
              (std::set<std::string>{"c", "d", "e"}));
    const std::set<std::string> fourth =
        cap > 2 ? std::set<std::string>{"f", "g", "h"} : std::set<std::string>{"f", "g"};
    EXPECT_EQ(std::set<std::string>(batches[3].begin(), batches[3].end()), fourth);
    EXPECT_EQ(batches[4], (std::vector<std::string>{"quick", "i"}));
  }
}

TEST(BatchQueue, ABatchHoldsAtMostMaxOpsCallsAndMaxBytes) {
  for (const bool byBytes : {false, true}) {
    SCOPED_TRACE(byBytes ? "bytes" : "ops");
    // Either two calls or 2 x 10 bytes fill a batch.
    BatchQueue queue({.maxInFlight = 1, .maxOps = byBytes ? 16u : 2u, .maxBytes = 20});
    Gate gate;
    RecordingSender recorder({{0, &gate}});
    const BatchQueue::Sender send = [&](const BatchQueue::Batch& b) { recorder(b); };
    auto first = RunAsync(queue, CallFor("a", kPatience, 10), send);
    ASSERT_TRUE(WaitSent(recorder, 1));
    std::vector<std::future<Delivery>> waiting;
    for (const char* k : {"b", "c", "d"}) {
      waiting.push_back(RunAsync(queue, CallFor(k, kPatience, 10), send));
      ASSERT_TRUE(WaitQueued(queue, waiting.size()));  // in this order
    }
    gate.Open();
    EXPECT_EQ(first.get(), Delivery::kAnswered);
    for (auto& w : waiting) EXPECT_EQ(w.get(), Delivery::kAnswered);
    const auto batches = recorder.batches();
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[0].size(), 1u);
    EXPECT_EQ(batches[1].size(), 2u);
    EXPECT_EQ(batches[2].size(), 1u);
  }
}

TEST(BatchQueue, ACallLargerThanMaxBytesStillGoesAlone) {
  BatchQueue queue({.maxInFlight = 1, .maxOps = 16, .maxBytes = 20});
  RecordingSender recorder;
  auto big = CallFor("big", kPatience, 1000);
  std::string outcome;
  EXPECT_EQ(queue.Run(big, [&](const BatchQueue::Batch& b) { recorder(b); }, &outcome),
            Delivery::kAnswered);
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<std::string>>{{"big"}}));
}

TEST(BatchQueue, AQueuedCallWhoseTimeRunsOutLeavesUnsentAndTheNextStillGoes) {
  BatchQueue queue({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024});
  Gate gate;
  RecordingSender recorder({{0, &gate}});
  const BatchQueue::Sender send = [&](const BatchQueue::Batch& b) { recorder(b); };
  auto first = RunAsync(queue, CallFor("a"), send);
  ASSERT_TRUE(WaitSent(recorder, 1));
  std::string outcome;
  EXPECT_EQ(queue.Run(CallFor("late", 30ms), send, &outcome), Delivery::kNoFreeConnection);
  EXPECT_NE(outcome.find("batches"), std::string::npos) << outcome;
  EXPECT_EQ(queue.queued(), 0u);
  gate.Open();
  EXPECT_EQ(first.get(), Delivery::kAnswered);
  EXPECT_EQ(queue.Run(CallFor("next"), send, &outcome), Delivery::kAnswered);
  EXPECT_EQ(recorder.batches(), (std::vector<std::vector<std::string>>{{"a"}, {"next"}}));
}

TEST(BatchQueue, ASentCallWhoseTimeRunsOutLeavesAndItsBatchFinishesWithoutIt) {
  BatchQueue queue({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024});
  Gate first, second;
  RecordingSender recorder({{0, &first}, {1, &second}});
  const BatchQueue::Sender send = [&](const BatchQueue::Batch& b) { recorder(b); };
  auto a = RunAsync(queue, CallFor("a"), send);
  ASSERT_TRUE(WaitSent(recorder, 1));
  // "long" queues before "short", so once "a" is back, long's thread sends
  // both; that batch is held until short's time has run out.
  auto longRun = RunAsync(queue, CallFor("long"), send);
  ASSERT_TRUE(WaitQueued(queue, 1));
  auto shortRun = RunAsync(queue, CallFor("short", 3s), send);
  ASSERT_TRUE(WaitQueued(queue, 2));
  first.Open();
  EXPECT_EQ(a.get(), Delivery::kAnswered);
  EXPECT_EQ(shortRun.get(), Delivery::kNoAnswerInTime);
  second.Open();
  EXPECT_EQ(longRun.get(), Delivery::kAnswered);
  const auto batches = recorder.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"long", "short"}));
}

TEST(BatchQueue, AFailedBatchFailsEveryCallInIt) {
  BatchQueue queue({.maxInFlight = 1, .maxOps = 16, .maxBytes = 1024});
  std::string outcome;
  const BatchQueue::Sender lose = [](const BatchQueue::Batch& batch) {
    for (const auto& c : batch) {
      c->delivery = Delivery::kLost;
      c->outcome = "connection closed by the node";
    }
  };
  EXPECT_EQ(queue.Run(CallFor("a"), lose, &outcome), Delivery::kLost);
  EXPECT_EQ(outcome, "connection closed by the node");
}

}  // namespace
}  // namespace kvraft::client
