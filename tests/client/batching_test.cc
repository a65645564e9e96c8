// KvClient's batching (Options::maxBatchesInFlight) against a fake node:
// calls travel in Batch requests, each caller gets the answer to its own
// call, and with batching off every call is a request of its own. Which
// calls travel together is BatchQueue's business (batch_queue_test.cc).
#include <chrono>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

TEST(Batching, ALoneCallTravelsInABatchOfOneAndRangeAlone) {
  FakeKvNode node;
  node.onGet = [](const wire::GetRequest& request, wire::GetResponse& out) {
    out.__set_value("value of " + request.key);
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  ASSERT_TRUE(client.Put("a", "1").ok());
  Result get = client.Get("a");
  ASSERT_TRUE(get.ok()) << get.ToString();
  EXPECT_EQ(get.value, "value of a");
  ASSERT_TRUE(client.Range("a", "b").ok());
  EXPECT_EQ(node.batchSizes(), (std::vector<size_t>{1, 1}));
  EXPECT_EQ(node.ranges(), 1);
}

TEST(Batching, OffSendsEveryCallOnItsOwn) {
  FakeKvNode node;
  node.Start();
  KvClient::Options options = TestOptions({node.endpoint()});
  options.maxBatchesInFlight = 0;
  KvClient client(options);
  ASSERT_TRUE(client.Put("a", "1").ok());
  EXPECT_EQ(client.Get("a").code, Code::kNotFound);
  EXPECT_TRUE(node.batchSizes().empty());
  EXPECT_EQ(node.writes().size(), 1u);
  EXPECT_EQ(node.gets().size(), 1u);
}

// Many threads, few batches in flight: calls share requests, and each
// caller still gets the answer meant for its own call, with its own
// sequence number.
TEST(Batching, EachCallerGetsItsOwnAnswer) {
  FakeKvNode node;
  node.onWrite = [](const WriteCall& call, wire::WriteResponse& out) {
    if (call.method != "CompareAndSwap") return;
    out.result.code = wire::Code::CAS_FAILED;
    out.__set_current("current of " + call.key);
  };
  node.onGet = [](const wire::GetRequest& request, wire::GetResponse& out) {
    out.__set_value("value of " + request.key);
  };
  node.Start();
  KvClient::Options options = TestOptions({node.endpoint()});
  options.maxBatchesInFlight = 2;
  options.maxBatchOps = 4;
  KvClient client(options);

  constexpr int kThreads = 12, kRounds = 20;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&client, &errors, t] {
      for (int i = 0; i < kRounds && errors[t].empty(); ++i) {
        const std::string key = "k" + std::to_string(t) + "." + std::to_string(i);
        Result r = client.CompareAndSwap(key, "x", "y");
        if (r.code != Code::kCasFailed || r.value != "current of " + key) {
          errors[t] = "cas " + key + ": " + r.ToString() + " " + r.value.value_or("(none)");
        }
        r = client.Get(key);
        if (!r.ok() || r.value != "value of " + key) {
          errors[t] = "get " + key + ": " + r.ToString() + " " + r.value.value_or("(none)");
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");

  const std::vector<size_t> sizes = node.batchSizes();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), size_t{0}), 2u * kThreads * kRounds);
  for (size_t n : sizes) EXPECT_LE(n, 4u);
  std::set<int64_t> sequences;
  for (const WriteCall& w : node.writes()) sequences.insert(w.session.sequence);
  EXPECT_EQ(sequences.size(), size_t{kThreads * kRounds});
}

// A call that waits its whole time for a batch slot, every one held by the
// client's other calls, was never sent: a timeout that says what to change.
//
// The held call must hold the slot past the waiting call's deadline, and
// every call gets the same timeout from its start, so the waiting call
// starts first: it is a write, which registers the client's session before
// it queues for a slot, and the node holds that registration until the
// held call is out.
TEST(Batching, ACallThatNeverGetsABatchSlotTimesOutSayingWhy) {
  FakeKvNode node;
  Gate registering, registered, getArrived, release;
  node.onRegister = [&](wire::RegisterClientResponse& out) {
    registering.Open();
    registered.Wait();
    out.__set_clientId(1);
  };
  node.onGet = [&](const wire::GetRequest&, wire::GetResponse&) {
    getArrived.Open();
    release.Wait();
  };
  node.Start();
  KvClient::Options options = TestOptions({node.endpoint()}, std::chrono::seconds(2));
  options.maxBatchesInFlight = 1;
  KvClient client(options);

  Result put;
  std::thread waiting([&client, &put] { put = client.Put("k", "v"); });
  ASSERT_TRUE(registering.Wait());
  // Its outcome is not the point: it may time out before release.
  std::thread held([&client] { client.Get("held"); });
  ASSERT_TRUE(getArrived.Wait());
  registered.Open();
  waiting.join();
  EXPECT_EQ(put.code, Code::kTimeout) << put.ToString();
  EXPECT_NE(put.message.find("maxBatchesInFlight"), std::string::npos) << put.message;
  EXPECT_TRUE(node.writes().empty()) << "it was never sent";
  release.Open();
  held.join();
}

}  // namespace
}  // namespace kvraft::client::testing
