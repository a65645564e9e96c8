// Which peer messages may wait in the leader's inbox (core/ack_wait.h): only
// acks that can change nothing the leader is waiting for.
#include "core/ack_wait.h"

#include <gtest/gtest.h>

namespace kvraft::core {
namespace {

AckWaitState Leader() {
  AckWaitState s;
  s.leader = true;
  s.term = 3;
  s.lastIndex = 10;
  s.commitIndex = 10;
  return s;
}

raft::Message Ack(uint64_t term, uint64_t match) {
  raft::Message m;
  m.type = raft::MessageType::kAppendEntriesResponse;
  m.term = term;
  m.success = true;
  m.matchIndex = match;
  return m;
}

TEST(AckWait, AnAckOfEverythingCommittedWaits) { EXPECT_TRUE(AckCanWait(Ack(3, 10), Leader())); }

TEST(AckWait, AnAckThatCanAdvanceTheCommitWakes) {
  AckWaitState s = Leader();
  s.commitIndex = 9;
  EXPECT_FALSE(AckCanWait(Ack(3, 10), s));
}

TEST(AckWait, AFollowerBehindWakesSoMoreEntriesCanGoOut) {
  EXPECT_FALSE(AckCanWait(Ack(3, 9), Leader()));
}

TEST(AckWait, AnOpenReadIndexRoundWakes) {
  AckWaitState s = Leader();
  s.readRoundPending = true;
  EXPECT_FALSE(AckCanWait(Ack(3, 10), s));
}

TEST(AckWait, ARejectionAnotherTermOrAnotherTypeWakes) {
  raft::Message rejected = Ack(3, 10);
  rejected.success = false;
  EXPECT_FALSE(AckCanWait(rejected, Leader()));
  EXPECT_FALSE(AckCanWait(Ack(4, 10), Leader()));
  EXPECT_FALSE(AckCanWait(Ack(2, 10), Leader()));
  raft::Message vote = Ack(3, 10);
  vote.type = raft::MessageType::kRequestVoteResponse;
  EXPECT_FALSE(AckCanWait(vote, Leader()));
}

TEST(AckWait, OnlyALeaderLetsAcksWait) {
  AckWaitState s = Leader();
  s.leader = false;
  EXPECT_FALSE(AckCanWait(Ack(3, 10), s));
}

}  // namespace
}  // namespace kvraft::core
