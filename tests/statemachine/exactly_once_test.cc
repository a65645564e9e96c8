// Exactly-once client semantics (DESIGN.md, "Client semantics"): sessions
// opened through the log, cached replies for retries, pruning by the
// client's first outstanding sequence, and expiry by leader time that every
// replica computes alike.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "statemachine/kv_inspector.h"
#include "statemachine/session_table.h"
#include "tests/statemachine/test_util.h"

namespace kvraft::statemachine {
namespace {

using testing::EncAppend;
using testing::EncCas;
using testing::EncGet;
using testing::EncNoOp;
using testing::EncPut;
using testing::EncRegister;
using testing::From;
using testing::Harness;
using testing::LogEntry;
using testing::Replay;
using testing::TempDir;

// The session records on disk, as kvadmin reads them; `h` is closed
// meanwhile and opened again after.
std::vector<StoredSession> StoredSessions(Harness& h, const std::string& dir) {
  EXPECT_TRUE(h.sm().Flush().ok());
  h.Close();
  std::vector<StoredSession> stored;
  std::unique_ptr<KvInspector> inspector;
  Status s = KvInspector::Open(dir, &inspector);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (s.ok()) {
    s = inspector->ForEachSession([&](const StoredSession& one) { stored.push_back(one); },
                                  [](std::string_view key) { ADD_FAILURE() << key; });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  inspector.reset();
  h.Open();
  return stored;
}

TEST(ExactlyOnce, RegisterClientNamesTheSessionAfterItsLogIndex) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  h.Apply1("");  // index 1: a leader's no-op
  EXPECT_EQ(h.Register(5), 2u);
  EXPECT_EQ(h.Register(5), 3u);
  EXPECT_EQ(h.sm().SessionCount(), 2u);
  h.Reopen();
  EXPECT_EQ(h.sm().SessionCount(), 2u) << "sessions are durable state";
  EXPECT_EQ(h.Register(5), 4u) << "ids stay unique across restarts with no counter";
}

TEST(ExactlyOnce, ARetriedAppendGetsTheCachedReplyAndAppendsOnce) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  const std::string append = EncAppend({c, 1, 1, 20}, "log", "x");
  EXPECT_EQ(h.Apply1(append).code, ReplyCode::kOk);
  // The client saw no answer and sent it again; also twice in one batch.
  std::vector<Reply> retries = h.Apply({append, append});
  EXPECT_EQ(retries[0].code, ReplyCode::kOk);
  EXPECT_EQ(retries[1].code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("log"), "x");
  // A new sequence number is a new command.
  h.Apply1(EncAppend({c, 2, 1, 21}, "log", "x"));
  EXPECT_EQ(h.Get("log"), "xx");
}

TEST(ExactlyOnce, ARetriedCommandGetsItsOriginalReplyNotANewOne) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  const std::string cas = EncCas({c, 1, 1, 20}, "lock", std::nullopt, "mine");
  EXPECT_EQ(h.Apply1(cas).code, ReplyCode::kOk);
  // Applied again, the CAS would now fail; the retry must see its success.
  EXPECT_EQ(h.Apply1(cas).code, ReplyCode::kOk);
  const std::string failing = EncCas({c, 2, 1, 20}, "lock", std::nullopt, "again");
  Reply first = h.Apply1(failing);
  EXPECT_EQ(first.code, ReplyCode::kCasFailed);
  h.Apply1(EncPut({c, 3, 1, 20}, "lock", "changed"));
  Reply retry = h.Apply1(failing);
  EXPECT_EQ(retry, first) << "the cached failure, with the value current back then";
}

TEST(ExactlyOnce, ARetriedAppendAfterARestartIsNotAppliedAgain) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  const std::string append = EncAppend({c, 1, 1, 20}, "log", "x");
  h.Apply1(append);
  h.Reopen();
  EXPECT_EQ(h.Apply1(append).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("log"), "x");
  // And after a crash that lost the unflushed batches: replay rebuilds the
  // session table with the state, and the retry is still answered from it.
  h.Apply1(EncAppend({c, 2, 1, 30}, "log", "y"));
  h.Crash();
  Replay(h.sm(), h.log(), 1, h.log().size(), 2);
  EXPECT_EQ(h.Apply1(EncAppend({c, 2, 1, 30}, "log", "y")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("log"), "xy");
}

TEST(ExactlyOnce, TheSameCommandProposedAgainByANewLeaderIsAppliedOnce) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  // The client's Append committed at index 2 in term 1, but the leader
  // crashed before answering; the client retried at the new leader, which
  // stamped its own (earlier) clock and put the same command at index 4.
  h.Apply1(EncAppend({c, 1, 1, 20}, "log", "x"));
  h.term = 2;
  h.Apply1(EncPut({c, 2, 1, 25}, "other", "1"));
  Reply dup = h.Apply1(EncAppend({c, 1, 1, 15}, "log", "x"));
  EXPECT_EQ(dup.code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("log"), "x");
  EXPECT_EQ(h.sm().AppliedIndex(), 4u);
}

TEST(ExactlyOnce, FirstOutstandingDropsTheRepliesTheClientHasSeen) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  // Five commands in flight at once: none answered yet.
  for (uint64_t seq = 1; seq <= 5; ++seq)
    h.Apply1(EncPut({c, seq, 1, 20}, "k" + std::to_string(seq), "v"));
  EXPECT_EQ(h.sm().CachedReplyCount(c), 5u);
  // The client has now seen the replies of 1..3.
  h.Apply1(EncPut({c, 6, 4, 21}, "k6", "v"));
  EXPECT_EQ(h.sm().CachedReplyCount(c), 3u) << "4, 5 and 6 remain";
  // A command older than the first outstanding does not lower it back.
  h.Apply1(EncPut({c, 5, 2, 21}, "k5", "v"));
  EXPECT_EQ(h.sm().CachedReplyCount(c), 3u);
  h.Reopen();
  EXPECT_EQ(h.sm().CachedReplyCount(c), 3u) << "pruning is durable";
}

TEST(ExactlyOnce, APlainOkReplyIsKeptInTheSessionHeaderAndStillAnswersARetry) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  const std::string put = EncPut({c, 1, 1, 20}, "k", "first");
  EXPECT_EQ(h.Apply1(put).code, ReplyCode::kOk);
  h.Apply1(EncPut({c, 2, 1, 20}, "other", "v"));
  const Reply casFailed = h.Apply1(EncCas({c, 3, 1, 20}, "k", std::nullopt, "x"));
  ASSERT_EQ(casFailed.code, ReplyCode::kCasFailed);
  h.Apply1(EncPut({c, 4, 1, 20}, "k", "second"));
  EXPECT_EQ(h.sm().CachedReplyCount(c), 4u);

  // On disk: the three plain OKs are sequences in the header; only the
  // CAS failure, which carries a value, is a reply record.
  {
    const std::vector<StoredSession> stored = StoredSessions(h, tmp.Sub("kv"));
    ASSERT_EQ(stored.size(), 1u);
    ASSERT_TRUE(stored[0].headerStatus.ok()) << stored[0].headerStatus.ToString();
    EXPECT_EQ(stored[0].header.okSequences, (std::vector<uint64_t>{1, 2, 4}));
    ASSERT_EQ(stored[0].replies.size(), 1u);
    EXPECT_EQ(stored[0].replies[0].sequence, 3u);
  }

  // The retried Put is answered OK and not applied again: applying it would
  // bring back "first".
  EXPECT_EQ(h.Apply1(put), Reply{});
  EXPECT_EQ(h.Get("k"), "second");
  EXPECT_EQ(h.Apply1(EncCas({c, 3, 1, 20}, "k", std::nullopt, "x")), casFailed);

  // Moving the first outstanding sequence drops plain OKs like any reply.
  h.Apply1(EncPut({c, 5, 4, 21}, "k", "third"));
  EXPECT_EQ(h.sm().CachedReplyCount(c), 2u) << "4 and 5 remain";
  EXPECT_EQ(h.Apply1(put).code, ReplyCode::kStaleSequence);
  EXPECT_EQ(h.Get("k"), "third");
}

TEST(ExactlyOnce, PlainOksBeyondTheHeadersRoomAreRecordsAndStillAnswerRetries) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  // The client's call 1 never ends (stuck on a partitioned node), so its
  // first outstanding sequence stays at 1 while its other calls go on.
  const uint64_t writes = SessionTable::kMaxOkSequences + 50;
  std::vector<std::string> batch;
  for (uint64_t seq = 2; seq <= writes + 1; ++seq) {
    batch.push_back(EncPut({c, seq, 1, 20}, "k" + std::to_string(seq % 7), std::to_string(seq)));
    if (batch.size() == 100) {
      h.Apply(batch);
      batch.clear();
    }
  }
  h.Apply(batch);
  EXPECT_EQ(h.sm().CachedReplyCount(c), writes);

  {
    const std::vector<StoredSession> stored = StoredSessions(h, tmp.Sub("kv"));
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].header.okSequences.size(), SessionTable::kMaxOkSequences)
        << "the header stops growing";
    EXPECT_EQ(stored[0].replies.size(), writes - SessionTable::kMaxOkSequences);
  }

  // Retries of the first and the last write: one in the header, one a
  // record; neither is applied again (the key's value would change).
  for (uint64_t seq : {uint64_t{2}, writes + 1}) {
    const std::string key = "k" + std::to_string(seq % 7);
    const std::string before = h.Get(key);
    EXPECT_EQ(h.Apply1(EncPut({c, seq, 1, 30}, key, "again")), Reply{}) << seq;
    EXPECT_EQ(h.Get(key), before) << seq;
  }
}

TEST(ExactlyOnce, ASequenceWhoseReplyWasDiscardedIsRefusedNotAppliedAgain) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t c = h.Register(10);
  const std::string first = EncAppend({c, 1, 1, 20}, "log", "x");
  h.Apply1(first);
  h.Apply1(EncAppend({c, 2, 2, 21}, "log", "y"));  // the client saw reply 1
  Reply late = h.Apply1(first);                    // a delayed duplicate of 1 arrives
  EXPECT_EQ(late.code, ReplyCode::kStaleSequence);
  EXPECT_NE(late.message.find("not applied again"), std::string::npos) << late.message;
  EXPECT_EQ(h.Get("log"), "xy");
}

TEST(ExactlyOnce, StateChangesNeedASessionAndAnUnknownOneIsExpired) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  Reply none = h.Apply1(EncPut({0, 1, 1, 10}, "k", "v"));
  EXPECT_EQ(none.code, ReplyCode::kInvalidArgument);
  Reply unknown = h.Apply1(EncPut({999, 1, 1, 10}, "k", "v"));
  EXPECT_EQ(unknown.code, ReplyCode::kSessionExpired);
  EXPECT_NE(unknown.message.find("register again"), std::string::npos) << unknown.message;
  EXPECT_EQ(h.Get("k"), "<absent>");
  // Reads change nothing and need no session.
  EXPECT_EQ(h.Apply1(EncGet({0, 0, 0, 10}, "k")).code, ReplyCode::kNotFound);
}

class SessionExpiry : public ::testing::Test {
 protected:
  static KvStateMachine::Options TenSeconds() {
    KvStateMachine::Options o;
    o.sessionExpiryMs = 10'000;
    return o;
  }
};

TEST_F(SessionExpiry, ASessionIdleForLongerThanTheExpiryInLeaderTimeIsRemoved) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"), TenSeconds());
  const uint64_t idle = h.Register(1'000);
  const uint64_t busy = h.Register(1'000);
  h.Apply1(EncPut({idle, 1, 1, 1'000}, "k", "before"));
  // Time passes only through commands: the busy client's.
  h.Apply1(EncPut({busy, 1, 1, 11'000}, "b", "1"));  // idle for exactly 10 s: still alive
  EXPECT_EQ(h.sm().SessionCount(), 2u);
  h.Apply1(EncPut({busy, 2, 2, 11'001}, "b", "2"));  // 10.001 s: gone
  EXPECT_EQ(h.sm().SessionCount(), 1u);
  EXPECT_EQ(h.sm().CachedReplyCount(idle), 0u) << "its cached replies go with it";

  // Its retry of an applied command, and any new one, are refused, never
  // applied a second time behind the client's back.
  Reply retry = h.Apply1(EncPut({idle, 1, 1, 11'002}, "k", "before"));
  EXPECT_EQ(retry.code, ReplyCode::kSessionExpired);
  Reply next = h.Apply1(EncAppend({idle, 2, 2, 11'002}, "k", "+"));
  EXPECT_EQ(next.code, ReplyCode::kSessionExpired);
  EXPECT_EQ(h.Get("k"), "before");
}

TEST_F(SessionExpiry, KeepAlivesAndCommandsKeepASessionOpen) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"), TenSeconds());
  const uint64_t c = h.Register(0);
  for (uint64_t t = 5'000; t <= 50'000; t += 5'000) {
    EXPECT_EQ(h.Apply1(EncNoOp({c, 0, 0, t})).code, ReplyCode::kOk) << t;
  }
  EXPECT_EQ(h.Apply1(EncPut({c, 1, 1, 55'000}, "k", "v")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Apply1(EncNoOp({c, 0, 0, 70'000})).code, ReplyCode::kSessionExpired);
}

TEST_F(SessionExpiry, ALeaderClockBehindTheLastOneNeitherExpiresNorRevivesSessions) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"), TenSeconds());
  const uint64_t c = h.Register(100'000);
  // A new leader whose clock is 90 s behind: time stays at its maximum.
  h.term = 2;
  h.Apply1(EncPut({c, 1, 1, 10'000}, "k", "v"));
  EXPECT_EQ(h.Digest().applied.leaderTimeMs, 100'000u);
  EXPECT_EQ(h.sm().SessionCount(), 1u);
  // The client's activity counts at the maximum time, so it expires 10 s
  // after that, as measured by later (larger) stamps.
  h.Apply1(EncNoOp({0, 0, 0, 110'000}));
  EXPECT_EQ(h.sm().SessionCount(), 1u);
  h.Apply1(EncNoOp({0, 0, 0, 110'001}));
  EXPECT_EQ(h.sm().SessionCount(), 0u);
  // An old stamp afterwards does not bring it back.
  EXPECT_EQ(h.Apply1(EncPut({c, 2, 2, 1}, "k", "w")).code, ReplyCode::kSessionExpired);
}

TEST_F(SessionExpiry, EveryReplicaExpiresTheSameSessionsAtTheSameIndex) {
  TempDir tmp;
  Harness leader(tmp.Sub("leader"), TenSeconds());
  std::vector<uint64_t> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(leader.Register(1'000 * i));
  uint64_t t = 6'000;
  for (int round = 1; round <= 30; ++round) {
    t += 1'500;
    // Clients 0..2 stay busy; the others fall silent one by one.
    for (size_t i = 0; i < clients.size(); ++i) {
      if (i >= 3 && round > static_cast<int>(i) * 2) continue;
      leader.Apply1(EncAppend({clients[i], uint64_t(round), uint64_t(round), t},
                              "log" + std::to_string(i), "."));
    }
  }
  EXPECT_EQ(leader.sm().SessionCount(), 3u);

  // Two followers apply the same log in different batches; at every common
  // point their state, sessions included, is the leader's at that index.
  KvStateMachine::Options o = TenSeconds();
  std::unique_ptr<KvStateMachine> a, b;
  o.dir = tmp.Sub("a");
  ASSERT_TRUE(KvStateMachine::Open(o, &a).ok());
  o.dir = tmp.Sub("b");
  ASSERT_TRUE(KvStateMachine::Open(o, &b).ok());
  const uint64_t last = leader.log().size();
  for (uint64_t upTo = 12; upTo <= last; upTo += 12) {
    Replay(*a, leader.log(), a->AppliedIndex() + 1, upTo, 1);
    Replay(*b, leader.log(), b->AppliedIndex() + 1, upTo, 5);
    StateDigest da, db;
    ASSERT_TRUE(a->Digest(&da).ok());
    ASSERT_TRUE(b->Digest(&db).ok());
    EXPECT_EQ(da, db) << "at index " << upTo;
    EXPECT_EQ(a->SessionCount(), b->SessionCount()) << "at index " << upTo;
  }
  Replay(*a, leader.log(), a->AppliedIndex() + 1, last, 7);
  StateDigest da;
  ASSERT_TRUE(a->Digest(&da).ok());
  EXPECT_EQ(da, leader.Digest());
}

}  // namespace
}  // namespace kvraft::statemachine
