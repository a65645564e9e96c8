// KvClient finds the leader: it follows NOT_LEADER hints, remembers who
// answered, steps past nodes that are down or cannot serve, and sends stale
// reads to whichever node answers.
#include <atomic>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

void NotLeader(wire::Result& result, const std::string& leaderAddress) {
  result.code = wire::Code::NOT_LEADER;
  result.leaderId = leaderAddress.empty() ? 0 : 2;
  result.leaderAddress = leaderAddress;
}

TEST(LeaderFinding, FollowsTheLeaderNamedInNotLeaderAndRemembersIt) {
  FakeKvNode leader;
  leader.Start();
  FakeKvNode follower;
  const std::string leaderAddress = leader.endpoint();
  follower.onRegister = [&](wire::RegisterClientResponse& out) {
    NotLeader(out.result, leaderAddress);
  };
  follower.onWrite = [&](const WriteCall&, wire::WriteResponse& out) {
    NotLeader(out.result, leaderAddress);
  };
  follower.Start();

  KvClient client(TestOptions({follower.endpoint()}));
  ASSERT_EQ(client.Put("k", "v").ToString(), "OK");
  EXPECT_EQ(follower.registrations(), 1);
  EXPECT_EQ(leader.registrations(), 1);
  ASSERT_EQ(leader.writes().size(), 1u);

  // The leader answered the registration, so the writes go straight to it.
  ASSERT_TRUE(client.Put("k", "w").ok());
  EXPECT_EQ(follower.writes().size(), 0u);
  EXPECT_EQ(leader.writes().size(), 2u);

  // The leader the hint named joined the client's endpoints.
  std::vector<NodeStatus> statuses = client.Status();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].endpoint, follower.endpoint());
  EXPECT_EQ(statuses[1].endpoint, leader.endpoint());
}

TEST(LeaderFinding, AWriteRedirectedMidwayKeepsItsSequenceNumber) {
  FakeKvNode leader;
  leader.Start();
  FakeKvNode follower;
  const std::string leaderAddress = leader.endpoint();
  follower.onWrite = [&](const WriteCall&, wire::WriteResponse& out) {
    NotLeader(out.result, leaderAddress);
  };
  follower.Start();

  // The follower registers the session (it does not need the leader in this
  // fake), so the write itself meets the redirect.
  KvClient client(TestOptions({follower.endpoint()}));
  ASSERT_TRUE(client.Append("k", "x").ok());
  ASSERT_EQ(follower.writes().size(), 1u);
  ASSERT_EQ(leader.writes().size(), 1u);
  EXPECT_EQ(follower.writes()[0].session, leader.writes()[0].session);
  EXPECT_EQ(leader.writes()[0].session.sequence, 1);
}

TEST(LeaderFinding, RetriesPastADeadEndpoint) {
  ClosedPort dead;
  FakeKvNode live;
  live.onGet = [](const wire::GetRequest&, wire::GetResponse& out) { out.__set_value("v"); };
  live.Start();

  KvClient client(TestOptions({dead.endpoint(), live.endpoint()}));
  Result put = client.Put("k", "v");
  ASSERT_TRUE(put.ok()) << put.ToString();
  Result get = client.Get("k");
  ASSERT_TRUE(get.ok()) << get.ToString();
  EXPECT_EQ(get.value, "v");
  EXPECT_EQ(live.writes().size(), 1u);
}

TEST(LeaderFinding, RetriesANodeThatWasUnavailable) {
  FakeKvNode node;
  std::atomic<int> gets{0};
  node.onGet = [&](const wire::GetRequest&, wire::GetResponse& out) {
    if (++gets == 1) {
      out.result.code = wire::Code::UNAVAILABLE;
      out.result.message = "shutting down";
      return;
    }
    out.__set_value("v");
  };
  node.Start();

  KvClient client(TestOptions({node.endpoint()}));
  Result get = client.Get("k");
  ASSERT_TRUE(get.ok()) << get.ToString();
  EXPECT_EQ(get.value, "v");
  EXPECT_EQ(node.gets().size(), 2u);
}

TEST(LeaderFinding, RetriesAfterTheNodesHandlerFailed) {
  FakeKvNode node;
  std::atomic<int> gets{0};
  node.onGet = [&](const wire::GetRequest&, wire::GetResponse& out) {
    if (++gets == 1) throw std::runtime_error("disk on fire");
    out.__set_value("v");
  };
  node.Start();

  KvClient client(TestOptions({node.endpoint()}));
  Result get = client.Get("k");
  ASSERT_TRUE(get.ok()) << get.ToString();
  EXPECT_EQ(node.gets().size(), 2u);
  // The connection whose call threw was closed, not reused.
  EXPECT_EQ(node.connections(), 2);
}

TEST(LeaderFinding, StaleReadsAreAnsweredByAFollower) {
  FakeKvNode follower;
  follower.onGet = [](const wire::GetRequest& request, wire::GetResponse& out) {
    if (!request.stale) return NotLeader(out.result, "");
    out.__set_value("old");
  };
  follower.onRange = [](const wire::RangeRequest& request, wire::RangeResponse& out) {
    if (!request.stale) return NotLeader(out.result, "");
    out.items.emplace_back();
    out.items.back().key = "a";
    out.items.back().value = "1";
  };
  follower.Start();

  KvClient client(TestOptions({follower.endpoint()}));
  Result get = client.Get("k", /*stale=*/true);
  ASSERT_TRUE(get.ok()) << get.ToString();
  EXPECT_EQ(get.value, "old");
  ASSERT_EQ(follower.gets().size(), 1u);
  EXPECT_TRUE(follower.gets()[0].stale);

  Result range = client.Range("a", "", 0, /*stale=*/true);
  ASSERT_TRUE(range.ok()) << range.ToString();
  EXPECT_EQ(range.items, (std::vector<KeyValue>{{"a", "1"}}));
}

TEST(LeaderFinding, LinearizableReadsAreSentToTheLeader) {
  FakeKvNode leader;
  leader.onGet = [](const wire::GetRequest& request, wire::GetResponse& out) {
    out.__set_value(request.stale ? "stale?" : "fresh");
  };
  leader.Start();
  FakeKvNode follower;
  const std::string leaderAddress = leader.endpoint();
  follower.onGet = [&](const wire::GetRequest&, wire::GetResponse& out) {
    NotLeader(out.result, leaderAddress);
  };
  follower.Start();

  KvClient client(TestOptions({follower.endpoint()}));
  Result get = client.Get("k");
  ASSERT_TRUE(get.ok()) << get.ToString();
  EXPECT_EQ(get.value, "fresh");
  EXPECT_EQ(follower.gets().size(), 1u);
  EXPECT_EQ(leader.gets().size(), 1u);
}

}  // namespace
}  // namespace kvraft::client::testing
