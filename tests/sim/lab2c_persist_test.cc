// MIT 6.824 lab 2C (persistence) on the deterministic simulator.
//
// 6.824's crash1() keeps what the persister holds; the simulator's Crash()
// is harsher: a Ready still being written is lost, as on a real disk. Its
// start1() becomes Restart(), which restarts a node whether or not it was
// up. Where the lab runs clients in goroutines, the clients here are
// chains of events on the simulated clock (Cluster::Schedule), so the
// whole schedule still follows from the seed.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/cluster.h"
#include "tests/sim/lab_util.h"

namespace kvraft::sim {
namespace {

// 6.824 start1() + connect(): a fresh node from what is durable, on the
// network.
void RestartAndConnect(Cluster& c, int node) {
  c.Restart(node);
  c.Connect(node);
}

// 6.824's one(cmd, expected, true) run in a goroutine: propose on whichever
// connected node accepts, re-propose if the entry has not reached
// `expected` nodes within 2 s, and fail the run after 10 s without
// agreement.
class BackgroundOne : public std::enable_shared_from_this<BackgroundOne> {
 public:
  BackgroundOne(Cluster& c, std::string cmd, int expected)
      : c_(c), cmd_(std::move(cmd)), expected_(expected), deadline_(c.now() + 10'000'000) {}

  void Run() {
    if (done_ || c_.failed()) return;
    if (index_ != 0) {
      std::string got;
      if (c_.NCommitted(index_, &got) >= expected_ && got == cmd_) {
        done_ = true;
        return;
      }
    }
    if (c_.now() >= deadline_) return c_.Fail("one(" + cmd_ + ") failed to reach agreement");
    if (c_.now() >= retryAt_) Propose();
    c_.Schedule(index_ != 0 ? 20'000 : 50'000, [self = shared_from_this()] { self->Run(); });
  }

  bool done() const { return done_; }

 private:
  void Propose() {
    for (int k = 0; k < c_.size(); ++k) {
      next_ = next_ % c_.size() + 1;
      if (!c_.up(next_) || !c_.connected(next_)) continue;
      const StartResult r = c_.Start(next_, cmd_);
      if (r.isLeader) {
        index_ = r.index;
        retryAt_ = c_.now() + 2'000'000;
        return;
      }
    }
  }

  Cluster& c_;
  const std::string cmd_;
  const int expected_;
  const uint64_t deadline_;
  uint64_t retryAt_ = 0;
  uint64_t index_ = 0;
  int next_ = 0;
  bool done_ = false;
};

// One client of 6.824's internalChurn: propose a fresh value on every up
// node (only a leader takes it), then look for it at the index it got,
// backing off 10, 20, 50, 100, 200 ms; values seen committed are recorded.
class ChurnClient : public std::enable_shared_from_this<ChurnClient> {
 public:
  ChurnClient(Cluster& c, int me) : c_(c), me_(me) {}

  void Run() {
    if (stopped_ || c_.failed()) return;
    value_ = "c" + std::to_string(me_) + "-" + std::to_string(++count_);
    index_ = 0;
    for (int i = 1; i <= c_.size(); ++i) {
      if (!c_.up(i)) continue;
      const StartResult r = c_.Start(i, value_);
      if (r.isLeader) index_ = r.index;
    }
    if (index_ == 0) {
      c_.Schedule((79 + me_ * 17) * 1000, [self = shared_from_this()] { self->Run(); });
      return;
    }
    Check(0);
  }

  void Stop() { stopped_ = true; }
  const std::vector<std::string>& values() const { return values_; }

 private:
  void Check(size_t attempt) {
    static constexpr uint64_t kDelaysMs[] = {10, 20, 50, 100, 200};
    if (stopped_ || c_.failed()) return;
    std::string cmd;
    if (c_.NCommitted(index_, &cmd) > 0) {
      if (cmd == value_) values_.push_back(value_);
      c_.Schedule(0, [self = shared_from_this()] { self->Run(); });
      return;
    }
    if (attempt == std::size(kDelaysMs)) {
      c_.Schedule(0, [self = shared_from_this()] { self->Run(); });
      return;
    }
    c_.Schedule(kDelaysMs[attempt] * 1000,
                [self = shared_from_this(), attempt] { self->Check(attempt + 1); });
  }

  Cluster& c_;
  const int me_;
  bool stopped_ = false;
  int count_ = 0;
  std::string value_;
  uint64_t index_ = 0;
  std::vector<std::string> values_;
};

// Reference: Figure 2 "persistent state on all servers". Committed entries
// survive whole-cluster restarts, a restarted leader, and a restarted
// follower that missed entries while down.
void Persist1(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  c.One("11", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  // Crash and re-start all.
  for (int i = 1; i <= 3; ++i) c.Restart(i);
  for (int i = 1; i <= 3; ++i) {
    c.Disconnect(i);
    c.Connect(i);
  }
  c.One("12", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  const int leader1 = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();
  c.Disconnect(leader1);
  RestartAndConnect(c, leader1);
  c.One("13", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  const int leader2 = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();
  c.Disconnect(leader2);
  const uint64_t index14 = c.One("14", 2, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  RestartAndConnect(c, leader2);
  // Wait for leader2 to join before killing i3 (6.824: wait(4, servers)).
  c.Wait(index14, 3, 0);
  ASSERT_FALSE(c.failed()) << c.failure();

  const int i3 = Peer(c, c.CheckOneLeader(), 1);
  ASSERT_FALSE(c.failed()) << c.failure();
  c.Disconnect(i3);
  c.One("15", 2, true);
  RestartAndConnect(c, i3);
  c.One("16", 3, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §5.4.1. Five servers, two restarted followers that missed
// entries and a majority that must include them: the election restriction
// has to work from persisted logs.
void Persist2(uint64_t seed) {
  Cluster c(LabOptions(5, seed));
  int index = 1;
  for (int iters = 0; iters < 5; ++iters) {
    SCOPED_TRACE("iteration " + std::to_string(iters));
    c.One(std::to_string(10 + index++), 5, true);
    ASSERT_FALSE(c.failed()) << c.failure();

    const int leader1 = c.CheckOneLeader();
    ASSERT_FALSE(c.failed()) << c.failure();
    c.Disconnect(Peer(c, leader1, 1));
    c.Disconnect(Peer(c, leader1, 2));

    c.One(std::to_string(10 + index++), 3, true);
    ASSERT_FALSE(c.failed()) << c.failure();

    c.Disconnect(leader1);
    c.Disconnect(Peer(c, leader1, 3));
    c.Disconnect(Peer(c, leader1, 4));

    RestartAndConnect(c, Peer(c, leader1, 1));
    RestartAndConnect(c, Peer(c, leader1, 2));
    c.RunFor(kElectionTimeoutUs);

    RestartAndConnect(c, Peer(c, leader1, 3));
    c.One(std::to_string(10 + index++), 3, true);
    ASSERT_FALSE(c.failed()) << c.failure();

    c.Connect(Peer(c, leader1, 4));
    c.Connect(leader1);
  }
  c.One("1000", 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: Figure 2. Two of three servers crash (one of them the leader)
// while the third is partitioned away; the survivors of the restart must
// still agree with it.
void Persist3(uint64_t seed) {
  Cluster c(LabOptions(3, seed));
  c.One("101", 3, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  const int leader = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();
  c.Disconnect(Peer(c, leader, 2));
  c.One("102", 2, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  c.Crash(leader);
  c.Crash(Peer(c, leader, 1));
  c.Connect(Peer(c, leader, 2));
  RestartAndConnect(c, leader);
  c.One("103", 2, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  RestartAndConnect(c, Peer(c, leader, 1));
  c.One("104", 3, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §5.4.2, Figure 8. Leaders crash right after proposing, over
// and over, with up to two servers down at a time, so that logs diverge in
// their uncommitted tails and every election has to sort them out. (Our
// leaders' no-ops travel with the old entries they follow, so this random
// script rarely sets up Figure 8 (c) itself; Figure8.OldTermEntryOnMajority
// below does, step by step.)
void Figure8(uint64_t seed) {
  Cluster c(LabOptions(5, seed));
  std::mt19937_64 rng(seed);
  c.One(RandomCommand(rng), 1, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  int nup = 5;
  for (int iters = 0; iters < 1000; ++iters) {
    int leader = 0;
    for (int i = 1; i <= 5; ++i) {
      if (c.up(i) && c.Start(i, RandomCommand(rng)).isLeader) leader = i;
    }

    if (rng() % 1000 < 100) {
      c.RunFor(rng() % (kElectionTimeoutUs / 2));
    } else {
      c.RunFor((rng() % 13) * 1000);
    }

    if (leader != 0) {
      c.Crash(leader);
      --nup;
    }

    if (nup < 3) {
      const int s = RandomNode(c, rng);
      if (!c.up(s)) {
        RestartAndConnect(c, s);
        ++nup;
      }
    }
    ASSERT_FALSE(c.failed()) << "iteration " << iters << ": " << c.failure();
  }

  for (int i = 1; i <= 5; ++i) {
    if (!c.up(i)) RestartAndConnect(c, i);
  }
  c.One(RandomCommand(rng), 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §5.4.2, Figure 8 (a)-(d), step by step, with partitions in
// place of the figure's crashes where a node must keep its log.
//  (a) S1 leads and replicates "a" to S2 only, then crashes.
//  (b) S5 wins with S3's and S4's votes and appends its own entry (its
//      no-op) at a's index, which nobody else receives.
//  (c) S1 or S2 wins a later term and copies "a" to S3: "a" is now on a
//      majority, but it is of an old term, so only the new leader's no-op
//      may commit it -- and S3 is cut off before it gets the no-op.
//  (d) S5 wins again with S3's and S4's votes (their logs end in an older
//      term than its own) and replaces "a" everywhere. That is safe only
//      because (c) did not commit "a"; the simulator's leader completeness
//      and state machine safety checks fail the run if it did.
// One entry per AppendEntries, as in the figure: otherwise S3 receives "a"
// and the no-op together and (c) cannot arise.
void Figure8PaperScenario(uint64_t seed) {
  SimOptions o = LabOptions(5, seed);
  o.maxSizePerMsg = 1;
  Cluster c(o);
  const int s1 = c.CheckOneLeader();
  c.One("base", 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  const int s2 = Peer(c, s1, 1);

  // (a)
  c.Partition({{s1, s2}});
  const StartResult a = c.Start(s1, "a");
  ASSERT_TRUE(a.isLeader);
  ASSERT_TRUE(c.RunUntil(
      [&] { return c.lastLogIndex(s2) >= a.index && c.storage(s1).LastIndex() >= a.index; },
      kElectionTimeoutUs))
      << "\"a\" did not reach S1's and S2's disks";
  c.Crash(s1);

  // (b)
  const std::vector<int> rest = {Peer(c, s1, 2), Peer(c, s1, 3), Peer(c, s1, 4)};
  int s5 = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i : rest) {
          if (c.isLeader(i)) s5 = i;
        }
        return s5 != 0;
      },
      5 * kElectionTimeoutUs))
      << "S3-S5 elected no leader";
  c.Disconnect(s5);  // its AppendEntries in flight are lost with the link
  ASSERT_EQ(c.lastLogIndex(s5), a.index) << "S5's no-op should sit at a's index";
  std::vector<int> s3s4;
  for (int i : rest) {
    if (i != s5) s3s4.push_back(i);
  }
  const int s3 = s3s4[0];
  const int s4 = s3s4[1];

  // (c)
  c.Restart(s1);
  c.Partition({{s1, s2, s3}, {s4}});  // S5, unnamed, is alone and disconnected anyway
  int leader = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        if (c.isLeader(s1)) leader = s1;
        if (c.isLeader(s2)) leader = s2;
        return leader != 0;
      },
      5 * kElectionTimeoutUs))
      << "neither S1 nor S2 won";
  ASSERT_TRUE(c.RunUntil(
      [&] {
        const raft::Raft* core = c.core(leader);
        const raft::Progress* p = core == nullptr ? nullptr : core->progress(s3);
        return p != nullptr && p->matchIndex >= a.index;
      },
      kElectionTimeoutUs))
      << "S3 never acknowledged \"a\"";
  c.Partition({{s1, s2}, {s3}, {s4}});  // the no-op on its way to S3 is lost
  ASSERT_EQ(c.lastLogIndex(s3), a.index) << "S3 must hold \"a\" but not the no-op";
  // Long enough to apply anything committed, and for S3's and S4's
  // check-quorum leases on their old leaders to lapse.
  c.RunFor(kElectionTimeoutUs / 2);
  ASSERT_FALSE(c.failed()) << c.failure();
  std::string cmd;
  EXPECT_EQ(c.NCommitted(a.index, &cmd), 0)
      << "\"a\", of an earlier term, was committed by counting replicas (Figure 8 (c))";

  // (d)
  c.Connect(s5);
  c.Partition({{s5, s3, s4}});
  ASSERT_TRUE(c.RunUntil([&] { return c.isLeader(s5); }, 5 * kElectionTimeoutUs))
      << "S5 should win: its log is the most up-to-date of S3, S4, S5";
  ASSERT_FALSE(c.failed()) << c.failure();

  c.HealPartitions();
  c.One("b", 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  for (int i = 1; i <= 5; ++i) {
    EXPECT_NE(c.Applied(i, a.index), std::optional<std::string>("a")) << "node " << i;
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Agreement on a network that drops, duplicates and reorders messages,
// with four clients proposing alongside every foreground One().
void UnreliableAgree(uint64_t seed) {
  Cluster c(LabOptions(5, seed));
  c.SetUnreliable(true);

  std::vector<std::shared_ptr<BackgroundOne>> clients;
  for (int iters = 1; iters < 50; ++iters) {
    for (int j = 0; j < 4; ++j) {
      auto client = std::make_shared<BackgroundOne>(c, std::to_string(100 * iters + j), 1);
      client->Run();
      clients.push_back(client);
    }
    c.One(std::to_string(iters), 1, true);
    ASSERT_FALSE(c.failed()) << "iteration " << iters << ": " << c.failure();
  }

  c.SetUnreliable(false);
  // wg.Wait(): every background client's command committed.
  c.RunUntil(
      [&] {
        for (const auto& client : clients) {
          if (!client->done()) return false;
        }
        return true;
      },
      10'000'000);
  ASSERT_FALSE(c.failed()) << c.failure();
  c.One("100", 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Figure 8 again, on an unreliable network that partway through starts
// delaying messages long enough that they arrive terms after they were
// sent. Servers are disconnected rather than crashed.
void Figure8Unreliable(uint64_t seed) {
  Cluster c(LabOptions(5, seed));
  std::mt19937_64 rng(seed);
  c.SetUnreliable(true);
  c.One(std::to_string(rng() % 10000), 1, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  // labrpc's long reordering holds two thirds of the messages back 200 ms
  // to 2.2 s. Our network delays every message uniformly, so a 300 ms
  // bound, longer than any election timeout, plays that part while still
  // letting some messages through in time for elections.
  Unreliable longReordering;
  longReordering.maxDelayUs = 300'000;

  int nup = 5;
  for (int iters = 0; iters < 1000; ++iters) {
    if (iters == 200) c.SetUnreliable(true, longReordering);
    int leader = 0;
    for (int i = 1; i <= 5; ++i) {
      if (c.Start(i, std::to_string(rng() % 10000)).isLeader && c.connected(i)) leader = i;
    }

    if (rng() % 1000 < 100) {
      c.RunFor(rng() % (kElectionTimeoutUs / 2));
    } else {
      c.RunFor((rng() % 13) * 1000);
    }

    if (leader != 0 && rng() % 1000 < kElectionTimeoutUs / 1000 / 2) {
      c.Disconnect(leader);
      --nup;
    }

    if (nup < 3) {
      const int s = RandomNode(c, rng);
      if (!c.connected(s)) {
        c.Connect(s);
        ++nup;
      }
    }
    ASSERT_FALSE(c.failed()) << "iteration " << iters << ": " << c.failure();
  }

  for (int i = 1; i <= 5; ++i) c.Connect(i);
  // Back to the ordinary unreliable network for the final agreement: the
  // lab's one() gets through long reordering because a third of labrpc's
  // messages are never held back, which our uniform delays do not copy.
  c.SetUnreliable(true);
  c.One(std::to_string(rng() % 10000), 5, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: Figure 2, §5.4. 6.824 internalChurn: three clients propose
// while servers are disconnected, crashed and restarted at random for 14 s.
// Afterwards every value a client saw committed must be in the final log
// that all five servers applied.
void Churn(uint64_t seed, bool unreliable) {
  Cluster c(LabOptions(5, seed));
  std::mt19937_64 rng(seed);
  if (unreliable) c.SetUnreliable(true);

  std::vector<std::shared_ptr<ChurnClient>> clients;
  for (int me = 0; me < 3; ++me) {
    clients.push_back(std::make_shared<ChurnClient>(c, me));
    clients.back()->Run();
  }

  for (int iters = 0; iters < 20; ++iters) {
    if (rng() % 1000 < 200) c.Disconnect(RandomNode(c, rng));
    if (rng() % 1000 < 500) {
      const int i = RandomNode(c, rng);
      if (!c.up(i)) c.Restart(i);
      c.Connect(i);
    }
    if (rng() % 1000 < 200) {
      const int i = RandomNode(c, rng);
      if (c.up(i)) c.Crash(i);
    }
    // Make crash/restart infrequent enough that the peers can often keep
    // up, but not so infrequent that everything has settled down between
    // one change and the next.
    c.RunFor(kElectionTimeoutUs * 7 / 10);
    ASSERT_FALSE(c.failed()) << "iteration " << iters << ": " << c.failure();
  }

  c.RunFor(kElectionTimeoutUs);
  c.SetUnreliable(false);
  for (int i = 1; i <= 5; ++i) {
    if (!c.up(i)) c.Restart(i);
    c.Connect(i);
  }
  std::vector<std::string> values;
  for (const auto& client : clients) {
    client->Stop();
    values.insert(values.end(), client->values().begin(), client->values().end());
  }
  c.RunFor(kElectionTimeoutUs);
  ASSERT_FALSE(c.failed()) << c.failure();

  const uint64_t lastIndex = c.One(RandomCommand(rng), 5, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  ASSERT_GT(lastIndex, 0u);

  // One() saw all five apply lastIndex, hence everything before it; the
  // indexes with nothing recorded are leaders' no-ops.
  std::set<std::string> really;
  for (uint64_t index = 1; index <= lastIndex; ++index) {
    std::string cmd;
    if (c.NCommitted(index, &cmd) > 0) {
      EXPECT_EQ(c.NCommitted(index, nullptr), 5) << "index " << index << " not applied everywhere";
      really.insert(cmd);
    }
  }
  ASSERT_FALSE(c.failed()) << c.failure();
  for (const std::string& v : values) {
    EXPECT_TRUE(really.count(v)) << "didn't find a value " << v << " that a client saw committed";
  }
  // Churn that let no client commit anything would test nothing.
  EXPECT_FALSE(values.empty()) << "no client value committed during the churn";
  EXPECT_FALSE(c.failed()) << c.failure();
}

}  // namespace

TEST(Lab2C, Persist1) { ForEachSeed(Persist1); }

TEST(Lab2C, Persist2) { ForEachSeed(Persist2); }

TEST(Lab2C, Persist3) { ForEachSeed(Persist3); }

TEST(Lab2C, Figure8) { ForEachSeed(Figure8); }

TEST(Figure8, OldTermEntryOnMajorityIsNotCommitted) { ForEachSeed(Figure8PaperScenario); }

TEST(Lab2C, UnreliableAgree) { ForEachSeed(UnreliableAgree); }

TEST(Lab2C, Figure8Unreliable) { ForEachSeed(Figure8Unreliable); }

TEST(Lab2C, ReliableChurn) {
  ForEachSeed([](uint64_t seed) { Churn(seed, false); });
}

TEST(Lab2C, UnreliableChurn) {
  ForEachSeed([](uint64_t seed) { Churn(seed, true); });
}

}  // namespace kvraft::sim
