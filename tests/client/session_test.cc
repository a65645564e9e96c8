// KvClient's exactly-once sessions: one registration however many threads
// write, writes numbered 1, 2, 3, ..., a retry carrying its write's number,
// firstOutstanding as the lowest number still in flight, and a new session
// after the cluster drops the old one.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "core/kv_client_session.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

using ::testing::HasSubstr;

TEST(Session, WritesAreNumberedFromOneInOneSession) {
  FakeKvNode node;
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  ASSERT_TRUE(client.Put("a", "1").ok());
  ASSERT_TRUE(client.Append("a", "2").ok());
  ASSERT_TRUE(client.Delete("a").ok());
  ASSERT_TRUE(client.CompareAndSwap("a", std::nullopt, "3").ok());

  EXPECT_EQ(node.registrations(), 1);
  std::vector<WriteCall> writes = node.writes();
  ASSERT_EQ(writes.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(writes[i].session.clientId, 1);
    EXPECT_EQ(writes[i].session.sequence, i + 1);
    EXPECT_EQ(writes[i].session.firstOutstanding, i + 1);
  }
  EXPECT_EQ(writes[0].method, "Put");
  EXPECT_EQ(writes[1].method, "Append");
  EXPECT_EQ(writes[2].method, "Delete");
  EXPECT_EQ(writes[3].method, "CompareAndSwap");
}

TEST(Session, ARetriedWriteKeepsItsSequenceNumber) {
  FakeKvNode node;
  std::atomic<int> writes{0};
  node.onWrite = [&](const WriteCall&, wire::WriteResponse& out) {
    if (++writes == 1) {
      out.result.code = wire::Code::TIMEOUT;
      out.result.message = "not applied in time";
    }
  };
  node.Start();

  KvClient client(TestOptions({node.endpoint()}));
  ASSERT_TRUE(client.Append("k", "x").ok());
  ASSERT_TRUE(client.Append("k", "y").ok());
  std::vector<WriteCall> seen = node.writes();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].session.clientId, seen[1].session.clientId);
  EXPECT_EQ(seen[0].session.sequence, 1);
  EXPECT_EQ(seen[1].session.sequence, 1);
  EXPECT_EQ(seen[1].value, "x");
  EXPECT_EQ(seen[2].session.sequence, 2);
}

TEST(Session, FirstOutstandingIsTheLowestWriteStillInFlight) {
  FakeKvNode node;
  Gate release1;
  Gate release2;
  node.onWrite = [&](const WriteCall& w, wire::WriteResponse&) {
    if (w.key == "held1") release1.Wait();
    if (w.key == "held2") release2.Wait();
  };
  node.Start();
  // The node holds several writes at once while others go on: each needs
  // a request of its own, not a place in a batch behind the held ones.
  KvClient::Options options = TestOptions({node.endpoint()});
  options.maxBatchesInFlight = 8;
  options.anotherBatchCap = 1;
  KvClient client(options);

  // Writes 1 and 2 are held by the node; each is started only once the one
  // before it arrived, so their numbers are known.
  std::thread first([&] { EXPECT_TRUE(client.Put("held1", "").ok()); });
  ASSERT_TRUE(node.WaitForWrites(1));
  std::thread second([&] { EXPECT_TRUE(client.Put("held2", "").ok()); });
  ASSERT_TRUE(node.WaitForWrites(2));

  ASSERT_TRUE(client.Put("free", "").ok());  // 3
  release1.Open();
  first.join();
  ASSERT_TRUE(client.Put("free", "").ok());  // 4
  release2.Open();
  second.join();
  ASSERT_TRUE(client.Put("free", "").ok());  // 5

  std::vector<WriteCall> writes = node.writes();
  ASSERT_EQ(writes.size(), 5u);
  EXPECT_EQ(writes[0].session.sequence, 1);
  EXPECT_EQ(writes[1].session.sequence, 2);
  EXPECT_EQ(writes[1].session.firstOutstanding, 1);
  EXPECT_EQ(writes[2].session.sequence, 3);
  EXPECT_EQ(writes[2].session.firstOutstanding, 1);
  EXPECT_EQ(writes[3].session.sequence, 4);
  EXPECT_EQ(writes[3].session.firstOutstanding, 2);
  EXPECT_EQ(writes[4].session.sequence, 5);
  EXPECT_EQ(writes[4].session.firstOutstanding, 5);
}

TEST(Session, ConcurrentFirstWritesRegisterOnce) {
  FakeKvNode node;
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  constexpr int kWriters = 8;
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&client, i] {
      EXPECT_TRUE(client.Put("k" + std::to_string(i), "v").ok());
    });
  }
  for (std::thread& t : writers) t.join();

  EXPECT_EQ(node.registrations(), 1);
  std::set<int64_t> sequences;
  for (const WriteCall& w : node.writes()) sequences.insert(w.session.sequence);
  EXPECT_EQ(sequences, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(Session, AnExpiredSessionIsReportedAndReplacedOnce) {
  FakeKvNode node;
  Gate release;
  std::atomic<bool> expired{false};
  node.onWrite = [&](const WriteCall& w, wire::WriteResponse& out) {
    if (w.key == "held") release.Wait();
    if (expired && w.session.clientId == 1) {
      out.result.code = wire::Code::SESSION_EXPIRED;
      out.result.message = "client 1 is unknown";
    }
  };
  node.Start();
  // The node holds several writes at once while others go on: each needs
  // a request of its own, not a place in a batch behind the held ones.
  KvClient::Options options = TestOptions({node.endpoint()});
  options.maxBatchesInFlight = 8;
  options.anotherBatchCap = 1;
  KvClient client(options);
  ASSERT_TRUE(client.Put("k", "v").ok());

  // Four writes of session 1 are in flight when the cluster forgets it.
  constexpr int kHeld = 4;
  std::vector<std::thread> held;
  std::atomic<int> sawExpired{0};
  for (int i = 0; i < kHeld; ++i) {
    held.emplace_back([&] {
      Result r = client.Put("held", "v");
      EXPECT_EQ(r.code, Code::kSessionExpired) << r.ToString();
      EXPECT_THAT(r.message, HasSubstr("client 1 is unknown"));
      EXPECT_THAT(r.message, HasSubstr("not applied"));
      ++sawExpired;
    });
  }
  ASSERT_TRUE(node.WaitForWrites(1 + kHeld));
  expired = true;
  release.Open();
  for (std::thread& t : held) t.join();
  ASSERT_EQ(sawExpired, kHeld);

  // The writes after it share one new session, numbered from 1 again.
  std::vector<std::thread> writers;
  for (int i = 0; i < kHeld; ++i) {
    writers.emplace_back([&] { EXPECT_TRUE(client.Put("k", "w").ok()); });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(node.registrations(), 2);
  std::vector<WriteCall> writes = node.writes();
  ASSERT_EQ(writes.size(), 1u + 2 * kHeld);
  std::set<int64_t> sequences;
  for (size_t i = 1 + kHeld; i < writes.size(); ++i) {
    EXPECT_EQ(writes[i].session.clientId, 2);
    sequences.insert(writes[i].session.sequence);
  }
  EXPECT_EQ(sequences, (std::set<int64_t>{1, 2, 3, 4}));
}

TEST(Session, StaleSequenceIsReportedAsABug) {
  FakeKvNode node;
  node.onWrite = [](const WriteCall&, wire::WriteResponse& out) {
    out.result.code = wire::Code::STALE_SEQUENCE;
    out.result.message = "sequence 1 below first outstanding 7";
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  Result r = client.Put("k", "v");
  EXPECT_EQ(r.code, Code::kInvalidArgument);
  EXPECT_THAT(r.message, HasSubstr("STALE_SEQUENCE"));
  EXPECT_THAT(r.message, HasSubstr("bug"));
  EXPECT_EQ(node.writes().size(), 1u);
}

// ClientSession on its own: registration failures and waiting.
TEST(ClientSessionTest, AFailedRegistrationIsRetriedByTheNextWrite) {
  ClientSession session;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int attempts = 0;
  const ClientSession::Registrar registrar = [&](int64_t* clientId, Result* failure) {
    if (++attempts == 1) {
      failure->code = Code::kUnavailable;
      failure->message = "no leader";
      return false;
    }
    *clientId = 42;
    return true;
  };
  ClientSession::Ticket ticket;
  Result failure;
  EXPECT_FALSE(session.Begin(registrar, deadline, &ticket, &failure));
  EXPECT_EQ(failure.code, Code::kUnavailable);
  ASSERT_TRUE(session.Begin(registrar, deadline, &ticket, &failure));
  EXPECT_EQ(ticket.clientId, 42);
  EXPECT_EQ(ticket.sequence, 1);
  EXPECT_EQ(session.FirstOutstanding(ticket), 1);
}

TEST(ClientSessionTest, AWriterWaitingForAnotherRegistrationGivesUpAtItsDeadline) {
  ClientSession session;
  Gate registering;
  Gate finish;
  std::thread registrant([&] {
    ClientSession::Ticket ticket;
    Result failure;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    EXPECT_TRUE(session.Begin(
        [&](int64_t* clientId, Result*) {
          registering.Open();
          finish.Wait();
          *clientId = 7;
          return true;
        },
        deadline, &ticket, &failure));
  });
  ASSERT_TRUE(registering.Wait());
  ClientSession::Ticket ticket;
  Result failure;
  bool registeredToo = false;
  EXPECT_FALSE(session.Begin(
      [&](int64_t*, Result*) {
        registeredToo = true;
        return false;
      },
      std::chrono::steady_clock::now() + std::chrono::milliseconds(50), &ticket, &failure));
  EXPECT_FALSE(registeredToo);
  EXPECT_EQ(failure.code, Code::kUnavailable);
  EXPECT_THAT(failure.message, HasSubstr("was not sent"));
  finish.Open();
  registrant.join();
}

}  // namespace
}  // namespace kvraft::client::testing
