// The instance as a whole: its directory, atomic batches with the applied
// index, replay after restart, durability across crashes, and the checks a
// batch must pass before anything of it is applied.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "statemachine/command.h"
#include "tests/statemachine/test_util.h"

namespace kvraft::statemachine {
namespace {

using testing::EncAppend;
using testing::EncPut;
using testing::Entries;
using testing::From;
using testing::Harness;
using testing::LogEntry;
using testing::Replay;
using testing::TempDir;

// A log of `n` puts and appends by one client over a handful of keys.
void WriteSomeLog(Harness& h, int n, uint64_t* seq) {
  const uint64_t client = h.Register(100);
  for (int i = 0; i < n; ++i) {
    ++*seq;
    const From f{client, *seq, *seq, 100 + *seq};
    const std::string key = "k" + std::to_string(i % 7);
    h.Apply1(i % 3 == 0 ? EncAppend(f, key, std::to_string(i)) : EncPut(f, key, std::to_string(i)));
  }
}

TEST(KvStateMachine, AFreshInstanceIsEmptyAtIndexZeroInItsFirstGeneration) {
  TempDir tmp;
  Harness h(tmp.Sub("data/kv"));
  EXPECT_EQ(h.sm().AppliedIndex(), 0u);
  EXPECT_EQ(h.sm().DurableAppliedIndex(), 0u);
  EXPECT_EQ(h.sm().SessionCount(), 0u);
  EXPECT_EQ(Entries(tmp.Sub("data/kv")), (std::vector<std::string>{"LIVE", "db-000001"}));
}

TEST(KvStateMachine, ABatchAndItsAppliedIndexSurviveARestartTogether) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t client = h.Register(10);
  h.term = 3;
  h.Apply({EncPut({client, 1, 1, 20}, "a", "1"), EncPut({client, 2, 1, 20}, "b", "2"),
           EncAppend({client, 3, 1, 21}, "a", "+")});
  const StateDigest before = h.Digest();
  h.Reopen();
  EXPECT_EQ(h.sm().AppliedIndex(), 4u);
  EXPECT_EQ(h.sm().AppliedTerm(), 3u);
  EXPECT_EQ(h.Get("a"), "1+");
  EXPECT_EQ(h.Get("b"), "2");
  EXPECT_EQ(h.Digest(), before);
  EXPECT_EQ(h.Digest().applied.leaderTimeMs, 21u) << "the leader clock is part of the state";
}

TEST(KvStateMachine, ReplayingAppliedEntriesChangesNothing) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  uint64_t seq = 0;
  WriteSomeLog(h, 20, &seq);
  const StateDigest before = h.Digest();

  // The whole log again, as a node replays it after a restart.
  std::vector<AppliedCommand> all;
  for (const LogEntry& e : h.log()) all.push_back({e.index, e.term, e.data});
  std::vector<Reply> replies;
  ASSERT_TRUE(h.sm().ApplyBatch(all, &replies).ok());
  ASSERT_EQ(replies.size(), all.size());
  for (const Reply& r : replies) EXPECT_EQ(r.code, ReplyCode::kSkipped);
  EXPECT_EQ(h.Digest(), before);

  // A batch that overlaps the applied index applies only its new part.
  const std::string next = EncAppend({1, seq + 1, seq + 1, 500}, "k0", "!");
  std::vector<AppliedCommand> overlap = {
      all[all.size() - 2], all.back(), {all.size() + 1, 1, next}};
  ASSERT_TRUE(h.sm().ApplyBatch(overlap, &replies).ok());
  EXPECT_EQ(replies[0].code, ReplyCode::kSkipped);
  EXPECT_EQ(replies[1].code, ReplyCode::kSkipped);
  EXPECT_EQ(replies[2].code, ReplyCode::kOk);
  EXPECT_EQ(h.sm().AppliedIndex(), all.size() + 1);
}

TEST(KvStateMachine, ACrashLosesOnlyWhatWasNotFlushedAndReplayRestoresIt) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  uint64_t seq = 0;
  WriteSomeLog(h, 30, &seq);
  ASSERT_TRUE(h.sm().Flush().ok());
  const uint64_t durable = h.sm().DurableAppliedIndex();
  EXPECT_EQ(durable, h.sm().AppliedIndex());
  WriteSomeLog(h, 30, &seq);  // registers a second client, then applies more
  const StateDigest full = h.Digest();
  EXPECT_EQ(h.sm().DurableAppliedIndex(), durable) << "nothing flushed it yet";

  h.Crash();
  EXPECT_EQ(h.sm().AppliedIndex(), durable) << "the instance reopens at its last flush";
  EXPECT_EQ(h.sm().DurableAppliedIndex(), durable);
  Replay(h.sm(), h.log(), 1, h.log().size(), 8);  // the node replays its log
  EXPECT_EQ(h.Digest(), full);
}

TEST(KvStateMachine, TheStateIsTheSameWhateverTheBatchSizes) {
  TempDir tmp;
  Harness reference(tmp.Sub("ref"));
  uint64_t seq = 0;
  WriteSomeLog(reference, 40, &seq);
  for (size_t batchSize : {1u, 3u, 64u}) {
    KvStateMachine::Options o;
    o.dir = tmp.Sub("replica" + std::to_string(batchSize));
    std::unique_ptr<KvStateMachine> replica;
    ASSERT_TRUE(KvStateMachine::Open(o, &replica).ok());
    Replay(*replica, reference.log(), 1, reference.log().size(), batchSize);
    StateDigest d;
    ASSERT_TRUE(replica->Digest(&d).ok());
    EXPECT_EQ(d, reference.Digest()) << "batches of " << batchSize;
  }
}

TEST(KvStateMachine, ABatchWithAGapOrGoingBackIsRefusedWholeAndChangesNothing) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t client = h.Register(10);  // index 1
  const std::string put = EncPut({client, 1, 1, 10}, "a", "1");
  const StateDigest before = h.Digest();
  std::vector<Reply> replies;

  Status gap = h.sm().ApplyBatch({{2, 1, put}, {4, 1, put}}, &replies);
  EXPECT_EQ(gap.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(gap.message().find("skips from index 2 to 4"), std::string::npos) << gap.message();
  Status back = h.sm().ApplyBatch({{2, 1, put}, {3, 1, put}, {2, 1, put}}, &replies);
  EXPECT_EQ(back.code(), Status::Code::kInvalidArgument);
  Status term = h.sm().ApplyBatch({{2, 5, put}, {3, 4, put}}, &replies);
  EXPECT_EQ(term.code(), Status::Code::kInvalidArgument) << "terms never decrease along a log";
  EXPECT_EQ(h.Digest(), before);

  // Refused batches poison nothing: the right batch still applies.
  ASSERT_TRUE(h.sm().ApplyBatch({{2, 1, put}}, &replies).ok());
  EXPECT_EQ(h.Get("a"), "1");
}

TEST(KvStateMachine, ACommandFromANewerFormatStopsApplyBeforeAnythingChanges) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t client = h.Register(10);
  std::string future = EncPut({client, 1, 1, 10}, "a", "1");
  future[0] = static_cast<char>(kCommandFormatVersion + 1);
  const std::string now = EncPut({client, 2, 1, 10}, "b", "2");
  const StateDigest before = h.Digest();
  std::vector<Reply> replies;
  Status s = h.sm().ApplyBatch({{2, 1, now}, {3, 1, future}}, &replies);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("upgrade this node"), std::string::npos) << s.message();
  EXPECT_EQ(h.Digest(), before) << "not even the command before it was applied";
}

TEST(KvStateMachine, UndecodableCommandsAndRaftNoOpsAreAnsweredAndAdvanceTheIndex) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const std::string garbage("\x01\x03\xff", 3);  // version 1, Put, then a broken varint
  std::vector<Reply> replies = h.Apply({"", garbage, std::string("\x00", 1)});
  EXPECT_EQ(replies[0].code, ReplyCode::kOk) << "an empty entry is the leader's no-op";
  EXPECT_EQ(replies[1].code, ReplyCode::kInvalidArgument);
  EXPECT_NE(replies[1].message.find("clientId"), std::string::npos) << replies[1].message;
  EXPECT_EQ(replies[2].code, ReplyCode::kInvalidArgument);
  EXPECT_EQ(h.sm().AppliedIndex(), 3u);
}

TEST(KvStateMachine, OpenRefusesBadOptions) {
  TempDir tmp;
  std::unique_ptr<KvStateMachine> sm;
  KvStateMachine::Options o;
  EXPECT_EQ(KvStateMachine::Open(o, &sm).code(), Status::Code::kInvalidArgument) << "no directory";
  o.dir = tmp.Sub("kv");
  o.limits.maxValueBytes = 0;
  EXPECT_EQ(KvStateMachine::Open(o, &sm).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace kvraft::statemachine
