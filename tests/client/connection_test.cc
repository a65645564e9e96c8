// KvClient's connections: calls from several threads run in parallel, each
// on a connection of its own; a connection is reused once its call is done;
// a capped pool makes calls take turns on its connections; Status asks
// every endpoint once and reports those it cannot reach.
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "core/kv_connection.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

using ::testing::HasSubstr;

TEST(Connections, CallsFromSeveralThreadsRunInParallel) {
  constexpr int kCallers = 4;
  FakeKvNode node;
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  // Each Get answers "together" only once all callers are inside the node at
  // the same time, which needs a connection each.
  node.onGet = [&](const wire::GetRequest&, wire::GetResponse& out) {
    std::unique_lock<std::mutex> lock(mu);
    ++inside;
    cv.notify_all();
    const bool together = cv.wait_for(lock, kPatience, [&] { return inside >= kCallers; });
    out.__set_value(together ? "together" : "alone");
  };
  node.Start();
  // Each call in a request of its own: this is about connections, not
  // batches (batching_test.cc).
  KvClient::Options options = TestOptions({node.endpoint()});
  options.maxBatchesInFlight = 0;
  KvClient client(options);

  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&client] {
      Result r = client.Get("k");
      EXPECT_TRUE(r.ok()) << r.ToString();
      EXPECT_EQ(r.value, "together");
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(node.connections(), kCallers);
}

TEST(Connections, OneCallerReusesOneConnection) {
  FakeKvNode node;
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client.Put("k", "v").ok());
    ASSERT_EQ(client.Get("k").code, Code::kNotFound);
  }
  EXPECT_EQ(node.connections(), 1);
}

TEST(Connections, CappedClientMakesCallersTakeTurnsOnItsConnections) {
  constexpr int kCallers = 6;
  constexpr size_t kCap = 2;
  FakeKvNode node;
  Gate release;
  node.onWrite = [&](const WriteCall&, wire::WriteResponse&) { release.Wait(); };
  node.Start();
  KvClient::Options options = TestOptions({node.endpoint()});
  options.maxConnectionsPerEndpoint = kCap;
  options.anotherBatchCap = 1;  // a second batch at once, to fill the second connection
  KvClient client(options);

  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&client, i] {
      Result r = client.Put("k" + std::to_string(i), "v");
      EXPECT_TRUE(r.ok()) << r.ToString();
    });
  }
  // Two writes held inside the node hold both connections: the other
  // callers wait in the client, so no third write can have been sent.
  ASSERT_TRUE(node.WaitForWrites(kCap));
  EXPECT_EQ(node.writes().size(), kCap);
  release.Open();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(node.writes().size(), static_cast<size_t>(kCallers));
  EXPECT_EQ(node.connections(), static_cast<int>(kCap));
}

TEST(Connections, CappedPoolWaitsForAConnectionAndGivesUpAtItsTimeout) {
  FakeKvNode node;
  node.Start();
  ConnectionPool pool(node.endpoint(), /*maxOpen=*/1);
  bool reused = true;
  std::unique_ptr<KvConnection> held = pool.Take(kPatience, &reused);
  ASSERT_NE(held, nullptr);
  EXPECT_FALSE(reused);
  // The only place is taken: a second caller gets nothing once its time is up.
  EXPECT_EQ(pool.Take(std::chrono::milliseconds(20), &reused), nullptr);

  // A caller that waits gets the connection as soon as it comes back.
  std::unique_ptr<KvConnection> handedOver;
  std::thread waiter([&] { handedOver = pool.Take(kPatience, &reused); });
  pool.Return(std::move(held));
  waiter.join();
  ASSERT_NE(handedOver, nullptr);
  EXPECT_TRUE(reused);

  // A discarded connection frees its place for a new one.
  pool.Discard(std::move(handedOver));
  std::unique_ptr<KvConnection> fresh = pool.Take(kPatience, &reused);
  ASSERT_NE(fresh, nullptr);
  EXPECT_FALSE(reused);
  // A call on it makes sure the node has accepted both connections.
  wire::NodeStatus status;
  fresh->rpc().Status(status);
  EXPECT_EQ(node.connections(), 2);
}

TEST(Connections, StatusReportsEveryEndpointIncludingUnreachableOnes) {
  ClosedPort dead;
  FakeKvNode live;
  live.onStatus = [](wire::NodeStatus& out) {
    out.nodeId = 3;
    out.clusterId = "test";
    out.role = "follower";
    out.term = 7;
    out.leaderId = 1;
    out.leaderAddress = "127.0.0.1:1";
    out.commitIndex = 40;
    out.appliedIndex = 39;
    out.lastLogIndex = 41;
    out.snapshotIndex = 20;
    out.voters = {1, 2, 3};
  };
  live.Start();
  KvClient client(TestOptions({dead.endpoint(), live.endpoint()}));

  std::vector<NodeStatus> statuses = client.Status();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].endpoint, dead.endpoint());
  EXPECT_FALSE(statuses[0].reachable);
  EXPECT_THAT(statuses[0].error, HasSubstr("connection refused"));

  const NodeStatus& s = statuses[1];
  EXPECT_EQ(s.endpoint, live.endpoint());
  EXPECT_TRUE(s.reachable);
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.nodeId, 3);
  EXPECT_EQ(s.clusterId, "test");
  EXPECT_EQ(s.role, "follower");
  EXPECT_EQ(s.term, 7);
  EXPECT_EQ(s.leaderId, 1);
  EXPECT_EQ(s.leaderAddress, "127.0.0.1:1");
  EXPECT_EQ(s.commitIndex, 40);
  EXPECT_EQ(s.appliedIndex, 39);
  EXPECT_EQ(s.lastLogIndex, 41);
  EXPECT_EQ(s.snapshotIndex, 20);
  EXPECT_EQ(s.voters, (std::vector<int64_t>{1, 2, 3}));
}

TEST(Connections, EndpointsAreHostColonPort) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitEndpoint("127.0.0.1:7101", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7101);
  ASSERT_TRUE(SplitEndpoint("[::1]:7102", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 7102);
  ASSERT_TRUE(SplitEndpoint("node-1.example:9", &host, &port));
  EXPECT_EQ(host, "node-1.example");
  for (const char* bad : {"", "7101", ":7101", "host:", "host:0", "host:65536", "host:71o1",
                          "::1:7101", "[]:1"}) {
    EXPECT_FALSE(SplitEndpoint(bad, &host, &port)) << bad;
  }
}

}  // namespace
}  // namespace kvraft::client::testing
