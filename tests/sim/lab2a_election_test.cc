// MIT 6.824 lab 2A (leader election) on the deterministic simulator.
//
// Each test is the 6.824 scenario of the same name, step for step; where
// the simulator differs from labrpc (nodes numbered 1..n, simulated time)
// the comment says how the step was translated. Every scenario runs under
// several seeds: each seed is a different, exactly replayable schedule.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "tests/sim/cluster.h"
#include "tests/sim/lab_util.h"

namespace kvraft::sim {
namespace {

// Reference: §5.2. A leader is elected without failures, and then keeps
// its term: its heartbeats stop every follower's election timer.
void InitialElection(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  // 6.824 sleeps 50 ms so that the followers hear of the new term.
  c.RunFor(50'000);
  const uint64_t term1 = c.CheckTerms();
  ASSERT_FALSE(c.failed()) << c.failure();
  EXPECT_GE(term1, 1u) << "term is " << term1 << ", but should be at least 1";

  c.RunFor(2 * kElectionTimeoutUs);
  const uint64_t term2 = c.CheckTerms();
  ASSERT_FALSE(c.failed()) << c.failure();
  // 6.824 only warns here; with a simulated network that loses nothing, a
  // term change means a follower timed out despite heartbeats: a real bug.
  EXPECT_EQ(term1, term2) << "term changed even though there were no failures";

  c.CheckOneLeader();
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §5.2. A new leader is elected when the old one is cut off;
// the old one rejoining does not break anything; no leader is elected
// without a quorum, and one is once a quorum is back.
void ReElection(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  const int leader1 = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  // If the leader disconnects, a new one should be elected.
  c.Disconnect(leader1);
  c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  // If the old leader rejoins, that shouldn't disturb the new leader, and
  // the old leader should switch to follower.
  c.Connect(leader1);
  const int leader2 = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  // If there's no quorum, no new leader should be elected.
  c.Disconnect(leader2);
  c.Disconnect(Peer(c, leader2, 1));
  c.RunFor(2 * kElectionTimeoutUs);
  // Check that the one connected server does not think it is the leader.
  EXPECT_TRUE(c.CheckNoLeader()) << c.failure();
  ASSERT_FALSE(c.failed()) << c.failure();

  // If a quorum arises, it should elect a leader.
  c.Connect(Peer(c, leader2, 1));
  c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  // Re-join of last node shouldn't prevent leader from existing.
  c.Connect(leader2);
  c.CheckOneLeader();
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §5.2. Seven servers, three of them (possibly the same one
// more than once) cut off at random ten times over: whatever quorum is
// left always ends up with exactly one leader.
void ManyElections(uint64_t seed) {
  Cluster c(LabOptions(7, seed));
  std::mt19937_64 rng(seed);
  auto randomNode = [&] { return static_cast<int>(rng() % 7) + 1; };
  c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  for (int iter = 1; iter < 10; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    const int i1 = randomNode();
    const int i2 = randomNode();
    const int i3 = randomNode();
    c.Disconnect(i1);
    c.Disconnect(i2);
    c.Disconnect(i3);

    // Either the current leader should still be alive, or the remaining
    // four should elect a new one.
    c.CheckOneLeader();
    ASSERT_FALSE(c.failed()) << c.failure();

    c.Connect(i1);
    c.Connect(i2);
    c.Connect(i3);
  }

  c.CheckOneLeader();
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §5.2, Figure 2 (votedFor is kept for the whole term). A
// follower that voted for W in term t, then heard from W as leader, must
// not vote again in t: an AppendEntries does not give its vote back.
//  - Five nodes L (the leader), F, B, C, H. F misses entry "y".
//  - L, C and H crash; L restarts; W (L or B) wins term t with F's vote.
//  - F rejects W's first AppendEntries (it lacks "y"), so it holds no entry
//    of term t; it is cut off from W before the retry arrives.
//  - C and H restart in term t-1 with F. Their logs are ahead of F's, so
//    only F's vote for W stops C (or H) from becoming a second leader of
//    term t, which the simulator's election safety check would report.
// `sameTerm` counts the seeds where W's election took one round, so that
// C and H, restarting in term t-1, campaign for exactly W's term.
void VoteSurvivesAppendEntries(uint64_t seed, int* sameTerm) {
  Cluster c(LabOptions(5, seed));
  const int l = c.CheckOneLeader();
  c.One("x", 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const int f = Peer(c, l, 1);
  const int b = Peer(c, l, 2);
  const int cand = Peer(c, l, 3);
  const int h = Peer(c, l, 4);

  c.Disconnect(f);
  const uint64_t y = c.One("y", 4, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const uint64_t frozenTerm = c.term(cand);

  c.Crash(l);
  c.Crash(cand);
  c.Crash(h);
  c.Restart(l);
  c.Connect(f);
  int w = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        if (c.isLeader(l)) w = l;
        if (c.isLeader(b)) w = b;
        return w != 0;
      },
      5 * kElectionTimeoutUs))
      << "neither L nor B won with F's vote";
  const uint64_t t = c.term(w);
  if (t == frozenTerm + 1) ++*sameTerm;
  ASSERT_TRUE(c.RunUntil([&] { return c.core(f)->leader() == static_cast<raft::NodeId>(w); },
                         kElectionTimeoutUs))
      << "F never heard from W";
  c.Partition({{w, w == l ? b : l}});  // W's retry to F is lost
  ASSERT_LT(c.lastLogIndex(f), y) << "F should have rejected W's first AppendEntries";
  ASSERT_EQ(c.term(f), t);
  ASSERT_EQ(c.core(f)->votedFor(), static_cast<raft::NodeId>(w)) << "F forgot its vote";

  c.Restart(cand);
  c.Restart(h);
  c.RunFor(2 * kElectionTimeoutUs);
  ASSERT_FALSE(c.failed()) << c.failure();

  c.HealPartitions();
  c.One("z", 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

}  // namespace

TEST(Lab2A, InitialElection) { ForEachSeed(InitialElection); }

TEST(Lab2A, ReElection) { ForEachSeed(ReElection); }

TEST(Lab2A, ManyElections) { ForEachSeed(ManyElections); }

TEST(ElectionSafety, VoteSurvivesAppendEntriesOfItsTerm) {
  int sameTerm = 0;
  ForEachSeed([&](uint64_t seed) { VoteSurvivesAppendEntries(seed, &sameTerm); });
  if (HasFailure()) return;
  EXPECT_GE(sameTerm, static_cast<int>(kSeeds / 2)) << "too few seeds set up a same-term election";
}

}  // namespace kvraft::sim
