// The core's features beyond Figure 2, on the deterministic simulator:
// pre-vote (§9.6), check-quorum (§6.2), ReadIndex reads (§6.4) and
// pipelined replication with flow control (thesis §10.2.1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/sim/cluster.h"
#include "tests/sim/lab_util.h"

namespace kvraft::sim {
namespace {

uint64_t MaxCommitIndex(const Cluster& c) {
  uint64_t m = 0;
  for (int i = 1; i <= c.size(); ++i) m = std::max(m, c.commitIndex(i));
  return m;
}

// The outcome of one Cluster::ReadIndex call.
struct Read {
  bool accepted = false;
  bool done = false;
  bool dropped = false;
  uint64_t index = 0;
  uint64_t appliedAtCallback = 0;  // the node's applied index when the read was served
  uint64_t committedBefore = 0;    // highest commitIndex anywhere when it was issued
};

// Issues a read on `node`; `r` must outlive the cluster's run.
void IssueRead(Cluster& c, int node, Read* r) {
  r->committedBefore = MaxCommitIndex(c);
  r->accepted = c.ReadIndex(
      node,
      [&c, node, r](uint64_t index) {
        r->done = true;
        r->index = index;
        r->appliedAtCallback = c.appliedIndex(node);
      },
      [r] { r->dropped = true; });
}

// ---------------------------------------------------------------- pre-vote

// Reference: §9.6. A follower cut off from the cluster keeps asking
// "would you vote for me?" and never hears yes, so it never bumps its own
// term: there is nothing for it to disrupt the cluster with on return.
void IsolatedNodeKeepsItsTerm(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  const int leader = c.CheckOneLeader();
  c.One("x", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const int follower = Peer(c, leader, 1);
  const uint64_t term = c.term(follower);

  c.Disconnect(follower);
  c.RunFor(5 * kElectionTimeoutUs);  // dozens of election timeouts
  EXPECT_EQ(c.term(follower), term) << "the isolated node raised its term";
  EXPECT_NE(c.role(follower), raft::Role::kCandidate);
  EXPECT_NE(c.role(follower), raft::Role::kLeader);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §9.6. When the isolated follower rejoins, the leader keeps
// both its leadership and its term.
void RejoiningNodeDoesNotDisrupt(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  const int leader = c.CheckOneLeader();
  c.One("x", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const int follower = Peer(c, leader, 1);
  const uint64_t term = c.term(leader);

  c.Disconnect(follower);
  c.One("y", 2, true);
  c.RunFor(5 * kElectionTimeoutUs);
  c.Connect(follower);
  c.RunFor(2 * kElectionTimeoutUs);
  ASSERT_FALSE(c.failed()) << c.failure();

  EXPECT_TRUE(c.isLeader(leader)) << "the rejoining node deposed the leader";
  EXPECT_EQ(c.term(leader), term) << "the rejoining node raised the leader's term";
  EXPECT_EQ(c.term(follower), term);
  // And it catches up with what was committed while it was away.
  c.One("z", 3, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// The same scenario with pre-vote and check-quorum off: the isolated node
// campaigns in ever higher terms and its return forces the leader out.
// This is what the two tests above guard against, and shows they can fail.
void WithoutPreVoteRejoiningNodeDisrupts(uint64_t seed) {
  SimOptions o = LabOptions(3, seed);
  o.preVote = false;
  o.checkQuorum = false;
  Cluster c(o);
  const int leader = c.CheckOneLeader();
  c.One("x", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const int follower = Peer(c, leader, 1);
  const uint64_t term = c.term(leader);

  c.Disconnect(follower);
  c.RunFor(5 * kElectionTimeoutUs);
  EXPECT_GT(c.term(follower), term);
  c.Connect(follower);
  c.RunFor(2 * kElectionTimeoutUs);
  EXPECT_GT(c.term(leader), term) << "the leader's term should have been raised";
  c.CheckOneLeader();
  EXPECT_FALSE(c.failed()) << c.failure();
}

// ---------------------------------------------------------------- check-quorum

// Reference: §6.2. A leader partitioned into a minority notices within two
// election timeouts that it no longer hears from a quorum and steps down
// (so its clients stop waiting on it), while the majority elects a new
// leader in a later term.
void MinorityLeaderStepsDown(uint64_t seed) {
  Cluster c(LabOptions(5, seed));
  const int leader = c.CheckOneLeader();
  c.One("x", 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const uint64_t term = c.term(leader);
  const int buddy = Peer(c, leader, 1);

  c.Partition({{leader, buddy}});
  // The quorum check runs once per electionTick: the first check after the
  // cut may still see the old acknowledgements, the second cannot.
  const SimOptions& o = c.options();
  const uint64_t bound = (2 * o.electionTick + 2) * o.tickUs;
  EXPECT_TRUE(c.RunUntil([&] { return !c.isLeader(leader); }, bound))
      << "the minority leader did not step down within " << bound << " us";

  auto majorityLeader = [&] {
    for (int i = 1; i <= 5; ++i) {
      if (i != leader && i != buddy && c.isLeader(i) && c.term(i) > term) return i;
    }
    return 0;
  };
  EXPECT_TRUE(c.RunUntil([&] { return majorityLeader() != 0; }, 2 * kElectionTimeoutUs))
      << "the majority elected no leader";
  EXPECT_FALSE(c.isLeader(leader));
  EXPECT_FALSE(c.isLeader(buddy));
  ASSERT_FALSE(c.failed()) << c.failure();

  c.HealPartitions();
  c.One("y", 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Without check-quorum nothing tells the minority leader it has lost its
// followers: it stays leader for as long as the partition lasts.
void WithoutCheckQuorumMinorityLeaderStays(uint64_t seed) {
  SimOptions o = LabOptions(5, seed);
  o.checkQuorum = false;
  Cluster c(o);
  const int leader = c.CheckOneLeader();
  c.One("x", 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  c.Partition({{leader, Peer(c, leader, 1)}});
  c.RunFor(2 * kElectionTimeoutUs);
  EXPECT_TRUE(c.isLeader(leader));
  c.HealPartitions();
  c.One("y", 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// ---------------------------------------------------------------- ReadIndex

// Reference: §6.4. A read served by the leader reflects every write that
// committed before the read was issued: its index is at or past them, and
// the leader has applied through that index when it serves the read.
// Reads are issued both on a quiet leader and right behind a proposal.
void ReadSeesCommittedWrites(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const uint64_t written = c.One("w" + std::to_string(round), 3, true);
    ASSERT_FALSE(c.failed()) << c.failure();
    const int leader = c.CheckOneLeader();
    ASSERT_FALSE(c.failed()) << c.failure();

    Read quiet;
    IssueRead(c, leader, &quiet);
    c.Start(leader, "p" + std::to_string(round));  // a write in flight, not yet committed
    Read busy;
    IssueRead(c, leader, &busy);
    ASSERT_TRUE(quiet.accepted && busy.accepted) << "the leader refused a read";

    c.RunUntil([&] { return quiet.done && busy.done; }, kElectionTimeoutUs);
    ASSERT_FALSE(c.failed()) << c.failure();
    for (const Read* r : {&quiet, &busy}) {
      ASSERT_TRUE(r->done) << "read not served (dropped: " << r->dropped << ")";
      EXPECT_GE(r->index, written);
      EXPECT_GE(r->index, r->committedBefore);
      EXPECT_GE(r->appliedAtCallback, r->index) << "read served before its index was applied";
    }
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §6.4 step 1. A new leader does not know which entries of
// earlier terms are committed until it commits one of its own. Here the
// old leader commits a write and is cut off before the followers hear
// that it committed; a read on the new leader issued the moment it wins
// must still come back at or past that write.
void NewLeaderReadWaitsForItsOwnCommit(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  const int leader = c.CheckOneLeader();
  c.One("x", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  const StartResult w = c.Start(leader, "w");
  ASSERT_TRUE(w.isLeader);
  ASSERT_TRUE(c.RunUntil([&] { return c.commitIndex(leader) >= w.index; }, kElectionTimeoutUs));
  c.Disconnect(leader);
  const uint64_t committed = c.commitIndex(leader);

  int newLeader = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 1; i <= 3; ++i) {
          if (i != leader && c.isLeader(i)) newLeader = i;
        }
        return newLeader != 0;
      },
      2 * kElectionTimeoutUs))
      << "no new leader";
  Read r;
  IssueRead(c, newLeader, &r);
  r.committedBefore = std::max(r.committedBefore, committed);
  ASSERT_TRUE(r.accepted);
  c.RunUntil([&] { return r.done || r.dropped; }, kElectionTimeoutUs);
  ASSERT_FALSE(c.failed()) << c.failure();
  ASSERT_TRUE(r.done) << "read not served (dropped: " << r.dropped << ")";
  EXPECT_GE(r.index, committed) << "the read missed a committed write";
  EXPECT_GE(r.appliedAtCallback, r.index);
  c.Connect(leader);
  c.One("y", 3, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §6.4 step 2. A leader cut off from its followers may not know
// it was deposed; a read it accepts must never be served, since the new
// majority may have committed writes it has not seen. While it is cut off
// the read stays unconfirmed (or is dropped, if check-quorum makes it step
// down); once it is back and has learned of the newer term, the read must
// be dropped, so that the client retries on the new leader rather than
// wait forever. With and without check-quorum, which changes when.
void IsolatedLeaderNeverServesRead(uint64_t seed, bool checkQuorum) {
  SimOptions o = LabOptions(5, seed);
  o.checkQuorum = checkQuorum;
  Cluster c(o);
  const int leader = c.CheckOneLeader();
  c.One("x", 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  c.Disconnect(leader);
  Read r;
  IssueRead(c, leader, &r);
  ASSERT_TRUE(r.accepted) << "the old leader should still believe it leads";

  // The majority moves on and commits a write the old leader never sees.
  c.One("after", 4, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  c.RunFor(2 * kElectionTimeoutUs);
  EXPECT_FALSE(r.done) << "an isolated leader served a read at index " << r.index;

  c.Connect(leader);
  c.RunFor(kElectionTimeoutUs);
  EXPECT_FALSE(r.done) << "a deposed leader served a read at index " << r.index;
  EXPECT_TRUE(r.dropped) << "a deposed leader should give up its pending reads";
  c.One("y", 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Several reads issued together, with and between proposals, are all
// served, each at or past what had committed when it was issued.
void ConcurrentReadsAllComplete(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  const int leader = c.CheckOneLeader();
  c.One("x", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  std::vector<Read> reads(8);
  for (size_t i = 0; i < reads.size(); ++i) {
    if (i % 3 == 1) c.Start(leader, "w" + std::to_string(i));
    IssueRead(c, leader, &reads[i]);
    ASSERT_TRUE(reads[i].accepted);
  }
  c.RunUntil(
      [&] {
        return std::all_of(reads.begin(), reads.end(), [](const Read& r) { return r.done; });
      },
      kElectionTimeoutUs);
  ASSERT_FALSE(c.failed()) << c.failure();
  for (size_t i = 0; i < reads.size(); ++i) {
    SCOPED_TRACE("read " + std::to_string(i));
    EXPECT_TRUE(reads[i].done) << "dropped: " << reads[i].dropped;
    EXPECT_GE(reads[i].index, reads[i].committedBefore);
    EXPECT_GE(reads[i].appliedAtCallback, reads[i].index);
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

// A follower does not serve reads: it either refuses the request or drops
// it, but never answers from its possibly stale state.
void FollowerDoesNotServeReads(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  const int leader = c.CheckOneLeader();
  c.One("x", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  Read r;
  IssueRead(c, Peer(c, leader, 1), &r);
  c.RunFor(kElectionTimeoutUs);
  EXPECT_FALSE(r.done) << "a follower served a read";
  EXPECT_TRUE(!r.accepted || r.dropped);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// ---------------------------------------------------------------- pipelining

// What a leader's progress toward its followers looked like over a run.
struct WindowStats {
  size_t maxInflight = 0;
  bool sawReplicateWithSeveralInflight = false;
};

void Watch(const Cluster& c, int leader, WindowStats* s) {
  const raft::Raft* core = c.core(leader);
  if (core == nullptr) return;
  for (int peer = 1; peer <= c.size(); ++peer) {
    const raft::Progress* p = core->progress(peer);
    if (p == nullptr) continue;
    s->maxInflight = std::max(s->maxInflight, p->inflight.size());
    if (p->state == raft::ProgressState::kReplicate && p->inflight.size() >= 2) {
      s->sawReplicateWithSeveralInflight = true;
    }
  }
}

bool AllApplied(const Cluster& c, uint64_t index) {
  for (int i = 1; i <= c.size(); ++i) {
    if (c.appliedIndex(i) < index) return false;
  }
  return true;
}

// Pipelining presumes what the design's transport gives: one stream per
// peer link, so messages on a link arrive in the order sent. The
// simulator's default network delays each message independently and so
// reorders them; there a pipelined message that overtakes its predecessor
// is rejected as a gap and the leader restarts the window, which measures
// the reordering rather than the pipeline. A constant delay keeps the
// order (ties go by send order) and makes the round trip long enough that
// a window is worth having.
SimOptions PipelineOptions(uint64_t seed) {
  SimOptions o = LabOptions(3, seed);
  o.maxSizePerMsg = 4 << 10;  // ~18 of our 200-byte commands per message
  o.maxInflightMsgs = 8;
  o.minDelayUs = o.maxDelayUs = 1'000;
  return o;
}

std::string PaddedCommand(const std::string& prefix) {
  std::string cmd = prefix;
  cmd.resize(200, '.');
  return cmd;
}

// Reference: thesis §10.2.1. Under load the leader batches many entries
// into each AppendEntries and keeps several of them in flight to each
// follower without waiting for acknowledgements, up to maxInflightMsgs.
void ManyProposalsArePipelined(uint64_t seed) {
  const SimOptions o = PipelineOptions(seed);
  Cluster c(o);
  const int leader = c.CheckOneLeader();
  c.One("warm-up", 3, true);  // followers are in Replicate from here on
  ASSERT_FALSE(c.failed()) << c.failure();
  const uint64_t messages0 = c.messageCount();

  constexpr int kEntries = 400;
  uint64_t last = 0;
  for (int i = 0; i < kEntries; ++i) {
    const StartResult r = c.Start(leader, PaddedCommand(std::to_string(i)));
    ASSERT_TRUE(r.isLeader);
    last = r.index;
  }

  WindowStats stats;
  const bool applied = c.RunUntil(
      [&] {
        Watch(c, leader, &stats);
        return AllApplied(c, last);
      },
      kElectionTimeoutUs);
  ASSERT_FALSE(c.failed()) << c.failure();
  ASSERT_TRUE(applied) << "400 entries not applied everywhere within 1 s";

  // Requests and replies both count: two followers and one message per
  // entry would already be 4x the entries.
  const uint64_t messages = c.messageCount() - messages0;
  EXPECT_LT(messages, static_cast<uint64_t>(kEntries))
      << "entries were not batched: " << messages << " messages for " << kEntries << " entries";
  EXPECT_TRUE(stats.sawReplicateWithSeveralInflight)
      << "the leader never had several AppendEntries in flight (max " << stats.maxInflight << ")";
  EXPECT_LE(stats.maxInflight, o.maxInflightMsgs) << "the in-flight window was exceeded";
  for (int peer = 1; peer <= 3; ++peer) {
    if (peer == leader) continue;
    const raft::Progress* p = c.core(leader)->progress(peer);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->state, raft::ProgressState::kReplicate) << "peer " << peer;
    EXPECT_EQ(p->matchIndex, last) << "peer " << peer;
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

// On a network that loses and reorders nothing, a follower in Replicate has
// no reason to go back to probing, and no entry needs sending twice.
// Bursts of proposals after idle periods, with followers that take 4 ms to
// make an append durable before acknowledging it: the leader must wait for
// the acknowledgements, not mistake a heartbeat tick that falls inside the
// round trip for a whole silent heartbeat interval.
void NoRetransmitOnLosslessNetwork(uint64_t seed) {
  SimOptions o = PipelineOptions(seed);
  o.minDelayUs = o.maxDelayUs = 500;
  o.minDiskUs = o.maxDiskUs = 4'000;
  Cluster c(o);
  std::mt19937_64 rng(seed);
  const int leader = c.CheckOneLeader();
  c.One("warm-up", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  const uint64_t bytes0 = c.messageBytes();
  const uint64_t messages0 = c.messageCount();
  uint64_t entryBytes = 0;  // what the entries cost on the wire if each goes once to each follower
  int leftReplicate = 0;
  std::vector<bool> replicating(c.size() + 1, true);
  for (int burst = 0; burst < 10; ++burst) {
    uint64_t last = 0;
    for (int i = 0; i < 100; ++i) {
      const std::string cmd = PaddedCommand(std::to_string(burst) + "/" + std::to_string(i));
      const StartResult r = c.Start(leader, cmd);
      ASSERT_TRUE(r.isLeader);
      last = r.index;
      entryBytes += (c.size() - 1) * (24 + cmd.size());  // Message::ByteSize() per entry
    }
    const bool applied = c.RunUntil(
        [&] {
          for (int peer = 1; peer <= c.size(); ++peer) {
            const raft::Progress* p = c.core(leader)->progress(peer);
            if (p == nullptr) continue;
            const bool now = p->state == raft::ProgressState::kReplicate;
            if (replicating[peer] && !now) ++leftReplicate;
            replicating[peer] = now;
          }
          return AllApplied(c, last);
        },
        kElectionTimeoutUs);
    ASSERT_FALSE(c.failed()) << c.failure();
    ASSERT_TRUE(applied) << "burst " << burst << " not applied everywhere within 1 s";
    c.RunFor(30'000 + rng() % 40'000);  // idle, ending at varying points of the heartbeat cycle
  }

  EXPECT_EQ(leftReplicate, 0) << "followers fell back from Replicate to Probe " << leftReplicate
                              << " times on a network that lost nothing";
  const uint64_t headers = 64 * (c.messageCount() - messages0);  // Message::ByteSize() base
  const uint64_t resent = c.messageBytes() - bytes0 - headers - entryBytes;
  EXPECT_LE(resent, entryBytes / 20) << resent << " bytes of entries sent more than once, "
                                     << entryBytes << " needed";
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Pipelined messages lost or reordered on the way: the leader must notice
// (a rejection, or no progress for a heartbeat interval), fall back to
// probing, and get back to streaming.
void PipelineRecoversFromLoss(uint64_t seed) {
  Cluster c(PipelineOptions(seed));
  c.CheckOneLeader();
  c.One("warm-up", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  c.SetUnreliable(true);

  uint64_t last = 0;
  for (int burst = 0; burst < 5; ++burst) {
    const int leader = c.CheckOneLeader();
    ASSERT_FALSE(c.failed()) << c.failure();
    for (int i = 0; i < 100; ++i) {
      const StartResult r = c.Start(leader, PaddedCommand(std::to_string(burst) + "/" + std::to_string(i)));
      if (r.isLeader) last = std::max(last, r.index);
    }
    c.RunFor(100'000);
  }
  c.SetUnreliable(false);
  // Entries of a deposed leader may never commit; one more command makes
  // sure everything before it did, on every node.
  const uint64_t final = c.One("final", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  EXPECT_GT(final, last);
  const int leader = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();
  for (int peer = 1; peer <= 3; ++peer) {
    if (peer == leader) continue;
    const raft::Progress* p = c.core(leader)->progress(peer);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->state, raft::ProgressState::kReplicate) << "peer " << peer;
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

}  // namespace

TEST(PreVote, IsolatedNodeKeepsItsTerm) { ForEachSeed(IsolatedNodeKeepsItsTerm); }

TEST(PreVote, RejoiningNodeDoesNotDisruptLeader) { ForEachSeed(RejoiningNodeDoesNotDisrupt); }

TEST(PreVote, WithoutPreVoteRejoiningNodeDisruptsLeader) {
  ForEachSeed(WithoutPreVoteRejoiningNodeDisrupts);
}

TEST(CheckQuorum, MinorityLeaderStepsDown) { ForEachSeed(MinorityLeaderStepsDown); }

TEST(CheckQuorum, WithoutCheckQuorumMinorityLeaderStays) {
  ForEachSeed(WithoutCheckQuorumMinorityLeaderStays);
}

TEST(ReadIndex, ReadSeesCommittedWrites) { ForEachSeed(ReadSeesCommittedWrites); }

TEST(ReadIndex, NewLeaderReadWaitsForItsOwnCommit) {
  ForEachSeed(NewLeaderReadWaitsForItsOwnCommit);
}

TEST(ReadIndex, IsolatedLeaderNeverServesRead) {
  ForEachSeed([](uint64_t seed) { IsolatedLeaderNeverServesRead(seed, true); });
}

TEST(ReadIndex, IsolatedLeaderWithoutCheckQuorumNeverServesRead) {
  ForEachSeed([](uint64_t seed) { IsolatedLeaderNeverServesRead(seed, false); });
}

TEST(ReadIndex, ConcurrentReadsAllComplete) { ForEachSeed(ConcurrentReadsAllComplete); }

TEST(ReadIndex, FollowerDoesNotServeReads) { ForEachSeed(FollowerDoesNotServeReads); }

TEST(Pipelining, ManyProposalsArePipelined) { ForEachSeed(ManyProposalsArePipelined); }

TEST(Pipelining, NoRetransmitOnLosslessNetwork) { ForEachSeed(NoRetransmitOnLosslessNetwork); }

TEST(Pipelining, RecoversFromLostMessages) { ForEachSeed(PipelineRecoversFromLoss); }

}  // namespace kvraft::sim
