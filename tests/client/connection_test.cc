// KvClient's connections: calls from several threads run in parallel, each
// on a connection of its own; a connection is reused once its call is done;
// Status asks every endpoint once and reports those it cannot reach.
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
  KvClient client(TestOptions({node.endpoint()}));

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
