// KvClient gives up at the call's deadline with an error that says which
// nodes it tried and what they said: kTimeout when a write may have been
// applied or a node took the request and did not finish it, kUnavailable
// when nothing could be done at all.
#include <atomic>
#include <chrono>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kShortTimeout{300};

void NoLeader(wire::Result& result) {
  result.code = wire::Code::NOT_LEADER;
  result.message = "no leader";
}

TEST(Deadline, AWriteWithNoLeaderTimesOutAndMayHaveBeenApplied) {
  FakeKvNode a;
  a.onWrite = [](const WriteCall&, wire::WriteResponse& out) { NoLeader(out.result); };
  a.Start();
  FakeKvNode b;
  b.onWrite = [](const WriteCall&, wire::WriteResponse& out) { NoLeader(out.result); };
  b.Start();

  KvClient client(TestOptions({a.endpoint(), b.endpoint()}, kShortTimeout));
  const auto start = Clock::now();
  Result put = client.Put("k", "v");
  const auto elapsed = Clock::now() - start;

  EXPECT_EQ(put.code, Code::kTimeout) << put.ToString();
  EXPECT_THAT(put.message, HasSubstr("no leader answered within 300 ms"));
  EXPECT_THAT(put.message, HasSubstr(a.endpoint() + " (not the leader, and knows of none"));
  EXPECT_THAT(put.message, HasSubstr(b.endpoint()));
  EXPECT_THAT(put.message, HasSubstr("may or may not have been applied"));
  EXPECT_GE(elapsed, kShortTimeout);
  EXPECT_LT(elapsed, kShortTimeout + std::chrono::seconds(5));
  // Every attempt was the same write.
  for (const WriteCall& w : a.writes()) EXPECT_EQ(w.session.sequence, 1);
  for (const WriteCall& w : b.writes()) EXPECT_EQ(w.session.sequence, 1);
}

TEST(Deadline, AWriteEveryNodeRefusedBeforeItsLogIsUnavailable) {
  // Nodes that say the command never entered their log (notInLog) leave no
  // doubt about it: the write was not applied, so the call is unavailable,
  // not timed out.
  auto refuse = [](const WriteCall&, wire::WriteResponse& out) {
    NoLeader(out.result);
    out.result.notInLog = true;
  };
  FakeKvNode a;
  a.onWrite = refuse;
  a.Start();
  FakeKvNode b;
  b.onWrite = refuse;
  b.Start();

  KvClient client(TestOptions({a.endpoint(), b.endpoint()}, kShortTimeout));
  Result put = client.Put("k", "v");
  EXPECT_EQ(put.code, Code::kUnavailable) << put.ToString();
  EXPECT_THAT(put.message, Not(HasSubstr("may or may not have been applied")));
  EXPECT_GT(a.writes().size() + b.writes().size(), 1u) << "it kept trying until the deadline";
}

TEST(Deadline, AReadWithNoLeaderIsUnavailable) {
  FakeKvNode a;
  a.onGet = [](const wire::GetRequest&, wire::GetResponse& out) { NoLeader(out.result); };
  a.Start();

  KvClient client(TestOptions({a.endpoint()}, kShortTimeout));
  Result get = client.Get("k");
  EXPECT_EQ(get.code, Code::kUnavailable) << get.ToString();
  EXPECT_THAT(get.message, HasSubstr("none could serve"));
  EXPECT_GT(a.gets().size(), 1u);
}

TEST(Deadline, AWriteThatCannotRegisterIsUnavailableAndWasNotSent) {
  FakeKvNode a;
  a.onRegister = [](wire::RegisterClientResponse& out) { NoLeader(out.result); };
  a.Start();

  KvClient client(TestOptions({a.endpoint()}, kShortTimeout));
  Result put = client.Put("k", "v");
  EXPECT_EQ(put.code, Code::kUnavailable) << put.ToString();
  EXPECT_THAT(put.message, HasSubstr("the write was not sent"));
  EXPECT_TRUE(a.writes().empty());
}

TEST(Deadline, AnUnreachableClusterIsUnavailable) {
  ClosedPort a;
  ClosedPort b;
  KvClient client(TestOptions({a.endpoint(), b.endpoint()}, kShortTimeout));

  Result put = client.Put("k", "v");
  EXPECT_EQ(put.code, Code::kUnavailable) << put.ToString();
  EXPECT_THAT(put.message, HasSubstr(a.endpoint() + " (connection refused"));
  EXPECT_THAT(put.message, HasSubstr(b.endpoint() + " (connection refused"));

  Result get = client.Get("k", /*stale=*/true);
  EXPECT_EQ(get.code, Code::kUnavailable) << get.ToString();
  EXPECT_THAT(get.message, HasSubstr("no node answered within 300 ms"));
  EXPECT_THAT(get.message, HasSubstr("check that the nodes are running"));
}

TEST(Deadline, ANodeAnsweringTimeoutMakesTheCallTimeOut) {
  FakeKvNode a;
  a.onGet = [](const wire::GetRequest&, wire::GetResponse& out) {
    out.result.code = wire::Code::TIMEOUT;
    out.result.message = "read index not confirmed";
  };
  a.Start();

  KvClient client(TestOptions({a.endpoint()}, kShortTimeout));
  Result get = client.Get("k");
  EXPECT_EQ(get.code, Code::kTimeout) << get.ToString();
  EXPECT_THAT(get.message, HasSubstr("answered TIMEOUT: read index not confirmed"));
}

TEST(Deadline, TheLastAttemptCutShortByTheDeadlineDoesNotHideWhatTheNodeSaid) {
  // The node answers TIMEOUT once, then holds every later attempt past the
  // call's deadline: the last attempt ends in silence only because the
  // call ran out of time, and the error still reports the node's answer.
  FakeKvNode a;
  Gate callEnded;
  std::atomic<int> gets{0};
  a.onGet = [&](const wire::GetRequest&, wire::GetResponse& out) {
    if (++gets > 1) callEnded.Wait();
    out.result.code = wire::Code::TIMEOUT;
    out.result.message = "read index not confirmed";
  };
  a.Start();

  KvClient client(TestOptions({a.endpoint()}, kShortTimeout));
  Result get = client.Get("k");
  callEnded.Open();
  EXPECT_EQ(get.code, Code::kTimeout) << get.ToString();
  EXPECT_THAT(get.message, HasSubstr("answered TIMEOUT: read index not confirmed; 2 attempts"));
  EXPECT_EQ(gets.load(), 2);
}

TEST(Deadline, AnAttemptWithNoAnswerIsRetriedOnANewConnection) {
  FakeKvNode node;
  Gate secondArrived;
  std::atomic<int> writes{0};
  // The first attempt is held until the retry arrives, long after the
  // client stopped waiting for it.
  node.onWrite = [&](const WriteCall&, wire::WriteResponse&) {
    if (++writes == 1) {
      secondArrived.Wait();
    } else {
      secondArrived.Open();
    }
  };
  node.Start();

  KvClient::Options options = TestOptions({node.endpoint()});
  options.attemptTimeout = milliseconds(100);
  KvClient client(options);
  Result put = client.Put("k", "v");
  ASSERT_TRUE(put.ok()) << put.ToString();
  // Two attempts at least (a loaded machine may make the retry miss its
  // 100 ms too), all of the same write, each on a connection of its own.
  std::vector<WriteCall> seen = node.writes();
  ASSERT_GE(seen.size(), 2u);
  for (const WriteCall& w : seen) EXPECT_EQ(w.session, seen[0].session);
  EXPECT_GE(node.connections(), static_cast<int>(seen.size()));
}

TEST(Deadline, NoEndpointsIsAnInvalidArgument) {
  KvClient client(TestOptions({}));
  Result get = client.Get("k");
  EXPECT_EQ(get.code, Code::kInvalidArgument) << get.ToString();
  EXPECT_THAT(get.message, HasSubstr("knows no nodes"));
}

TEST(Deadline, AMalformedEndpointIsReportedAsSuch) {
  KvClient client(TestOptions({"no-port-here"}, kShortTimeout));
  Result get = client.Get("k");
  EXPECT_EQ(get.code, Code::kUnavailable) << get.ToString();
  EXPECT_THAT(get.message, HasSubstr("\"no-port-here\" is not host:port"));
}

}  // namespace
}  // namespace kvraft::client::testing
