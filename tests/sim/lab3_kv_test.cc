// MIT 6.824 lab 3 (fault-tolerant KV service: 3A without, 3B with log
// compaction) on the deterministic simulator, against the real kv state
// machine (KvApp: core::KvReplica over RocksDB in a temporary directory).
//
// Each test runs the lab's scenario under a few seeds. Where the lab checks
// each client's appends to its own key, these tests check more: the whole
// history of every run (Get, Put, Append, Delete, CompareAndSwap) must be
// linearizable, and replicas at the same applied index must have the same
// state digest, as must any two snapshots taken or installed at one index.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "statemachine/command.h"
#include "tests/sim/cluster.h"
#include "tests/sim/kv_app.h"
#include "tests/sim/kv_workload.h"
#include "tests/sim/lab_util.h"

namespace kvraft::sim {
namespace {

constexpr uint64_t kSeedsPerTest = 2;
constexpr uint64_t kSecond = 1'000'000;

// A cluster of KvApps. snapshotBytes is the lab's maxraftstate: the log
// is compacted once the commands applied since the last snapshot reach it
// (0: never, the lab's -1).
struct KvCluster {
  KvCluster(int nodes, uint64_t seed, uint64_t snapshotBytes) {
    SimOptions o = LabOptions(nodes, seed);
    KvApp::Options app;
    app.snapshotBytes = snapshotBytes;
    o.app = [this, app](int node, const std::string& dir) {
      return std::make_unique<KvApp>(node, dir, app, &book);
    };
    o.snapshotChunkBytes = 4096;  // several chunks per install
    o.trace = std::getenv("LAB3_TRACE") != nullptr;  // print every event of a failing seed
    cluster = std::make_unique<Cluster>(o);
  }
  KvApp& app(int node) { return dynamic_cast<KvApp&>(cluster->app(node)); }

  DigestBook book;
  std::unique_ptr<Cluster> cluster;
};

// Command bytes in a node's durable log past its snapshot: what the lab
// calls the Raft state size.
uint64_t LogBytes(const Cluster& c, int node) {
  const raft::Storage& s = c.storage(node);
  std::vector<raft::Entry> entries;
  if (s.LastIndex() >= s.FirstIndex()) {
    EXPECT_TRUE(s.Entries(s.FirstIndex(), s.LastIndex() + 1, UINT64_MAX, &entries).ok());
  }
  uint64_t bytes = 0;
  for (const raft::Entry& e : entries) bytes += e.data.size();
  return bytes;
}

struct Generic {
  int clients = 1;
  int servers = 5;
  bool unreliable = false;
  bool crash = false;
  bool partitions = false;
  uint64_t maxRaftState = 0;  // 0: no snapshots
  bool randomKeys = false;    // false: each client appends to its own key
};

// 6.824 GenericTest: three rounds of clients working for five (simulated)
// seconds, with a partitioner cutting the cluster in two at random every
// second or so, an unreliable network, and at the end of each round all
// servers crashed and restarted, as the parameters say.
void GenericTest(uint64_t seed, const Generic& g) {
  KvCluster kc(g.servers, seed, g.maxRaftState);
  Cluster& c = *kc.cluster;
  if (g.unreliable) c.SetUnreliable(true);
  KvWorkloadOptions wo;
  wo.clients = g.clients;
  wo.ownKeys = !g.randomKeys;
  wo.keys = g.randomKeys ? 5 : g.clients;
  KvWorkload w(c, wo);

  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    w.Start();
    bool partitioning = g.partitions;
    std::function<void()> partitioner = [&] {
      if (!partitioning) return;
      std::vector<std::vector<int>> halves(2);
      for (int i = 1; i <= c.size(); ++i) halves[c.rng()() % 2].push_back(i);
      c.Partition(halves);
      c.Schedule(kElectionTimeoutUs + c.rng()() % 200'000, partitioner);
    };
    if (g.partitions) c.Schedule(c.rng()() % 200'000, partitioner);
    c.RunFor(5 * kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    w.Stop();
    partitioning = false;
    if (g.partitions) {
      c.HealPartitions();
      c.RunFor(kElectionTimeoutUs);  // a leader can emerge
    }
    if (g.crash) {
      for (int i = 1; i <= c.size(); ++i) c.Crash(i);
      c.RunFor(100'000);
      for (int i = 1; i <= c.size(); ++i) c.Restart(i);
    }
    ASSERT_TRUE(w.WaitIdle(30 * kSecond)) << "clients did not finish after the faults were healed";
    ASSERT_FALSE(c.failed()) << c.failure();
    for (int k = 0; k < g.clients; ++k) {
      EXPECT_GT(w.answeredBy(k), 0u) << "client " << k << " made no progress";
    }
    if (g.maxRaftState > 0) {
      for (int i = 1; i <= c.size(); ++i) {
        EXPECT_LE(LogBytes(c, i), 8 * g.maxRaftState) << "node " << i << "'s log is not compacted";
      }
    } else {
      for (int i = 1; i <= c.size(); ++i) EXPECT_EQ(c.snapshotIndex(i), 0u) << "snapshots are off";
    }
  }
  // Let every replica catch up, then compare them and check the history.
  c.RunFor(2 * kSecond);
  ASSERT_FALSE(c.failed()) << c.failure();
  const std::string problem = w.Check();
  EXPECT_TRUE(problem.empty()) << problem;
  EXPECT_GT(w.answered(), 100u);
}

void ForSeeds(const std::function<void(uint64_t)>& scenario) {
  for (uint64_t seed = 1; seed <= kSeedsPerTest; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    scenario(seed);
    if (::testing::Test::HasFailure()) return;
  }
}

// ---------------------------------------------------------------- 3A

TEST(Lab3A, Basic) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 1}); });
}

// The lab wants an operation to take well under a heartbeat interval: a
// leader that waited for the next heartbeat to replicate would fail. Here
// a heartbeat is 20 ms of simulated time, and a commit needs a round trip
// of 0.1-4 ms plus two disk writes of up to 1 ms: waiting for heartbeats
// would add half an interval on average, so the mean must stay below that.
void SpeedTest(uint64_t seed, uint64_t maxRaftState) {
  KvCluster kc(3, seed, maxRaftState);
  Cluster& c = *kc.cluster;
  KvWorkloadOptions wo;
  wo.clients = 1;
  wo.ownKeys = true;
  wo.thinkUs = 0;
  wo.getParts = 0, wo.putParts = 0, wo.deleteParts = 0, wo.casParts = 0;  // appends only
  KvWorkload w(c, wo);
  c.CheckOneLeader();
  w.Start();
  c.RunUntil([&] { return w.answered() >= 1; }, 5 * kSecond);  // registered, first op done
  const uint64_t start = c.now();
  const uint64_t first = w.answered();
  ASSERT_TRUE(c.RunUntil([&] { return w.answered() >= first + 1000; }, 60 * kSecond));
  const uint64_t perOpUs = (c.now() - start) / 1000;
  w.Stop();
  ASSERT_TRUE(w.WaitIdle(5 * kSecond));
  ASSERT_FALSE(c.failed()) << c.failure();
  ::testing::Test::RecordProperty("us_per_op", static_cast<int>(perOpUs));
  const uint64_t heartbeatUs = c.options().tickUs * c.options().heartbeatTick;
  EXPECT_LT(perOpUs, heartbeatUs / 2) << "operations wait for heartbeats";
  const std::string problem = w.Check();
  EXPECT_TRUE(problem.empty()) << problem;
}

TEST(Lab3A, Speed) {
  ForSeeds([](uint64_t seed) { SpeedTest(seed, 0); });
}

TEST(Lab3A, Concurrent) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 5}); });
}

TEST(Lab3A, Unreliable) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 5, .unreliable = true}); });
}

// Five clients append to one key over an unreliable network: every append
// lands exactly once, which the history check verifies through the Gets.
TEST(Lab3A, UnreliableOneKey) {
  ForSeeds([](uint64_t seed) {
    KvCluster kc(3, seed, 0);
    Cluster& c = *kc.cluster;
    c.SetUnreliable(true);
    KvWorkloadOptions wo;
    wo.clients = 5;
    wo.keys = 1;
    wo.putParts = 0, wo.deleteParts = 0, wo.casParts = 0;
    wo.getParts = 1, wo.appendParts = 4;
    KvWorkload w(c, wo);
    w.Start();
    c.RunFor(5 * kSecond);
    w.Stop();
    ASSERT_TRUE(w.WaitIdle(30 * kSecond));
    ASSERT_FALSE(c.failed()) << c.failure();
    const std::string problem = w.Check();
    EXPECT_TRUE(problem.empty()) << problem;
    EXPECT_GT(w.answered(), 50u);
  });
}

// The leader and one follower on one side, the other followers on the
// other: the majority side goes on; the minority commits nothing, so a
// command proposed there never applies; after healing, everyone converges.
TEST(Lab3A, OnePartition) {
  ForSeeds([](uint64_t seed) {
    KvCluster kc(5, seed, 0);
    Cluster& c = *kc.cluster;
    KvWorkloadOptions wo;
    wo.clients = 3;
    KvWorkload w(c, wo);
    w.Start();
    c.RunFor(kSecond);
    const int leader = c.CheckOneLeader();
    ASSERT_NE(leader, 0) << c.failure();
    const int a = Peer(c, leader, 1), b = Peer(c, leader, 2);
    const int m1 = Peer(c, leader, 3), m2 = Peer(c, leader, 4);
    c.Partition({{leader, a, b}, {m1, m2}});
    const uint64_t minorityCommit = std::max(c.commitIndex(m1), c.commitIndex(m2));
    const uint64_t answeredBefore = w.answered();

    // A command proposed in the minority: no node there can lead, and if
    // the stale leader's view lets one accept it, it cannot commit.
    c.RunFor(kElectionTimeoutUs);
    statemachine::Command noop;
    noop.op = statemachine::Operation::kNoOp;
    const std::string orphan = statemachine::EncodeCommand(noop);
    for (int node : {m1, m2}) {
      const StartResult r = c.Start(node, orphan);
      EXPECT_FALSE(r.isLeader) << "minority node " << node << " accepted a proposal";
    }
    c.RunFor(2 * kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    EXPECT_GT(w.answered(), answeredBefore + 10) << "the majority made no progress";
    EXPECT_LE(std::max(c.commitIndex(m1), c.commitIndex(m2)), minorityCommit)
        << "the minority committed something";

    c.HealPartitions();
    c.RunFor(2 * kSecond);
    w.Stop();
    ASSERT_TRUE(w.WaitIdle(30 * kSecond));
    c.RunFor(kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    for (int node : {m1, m2}) {
      EXPECT_EQ(c.appliedIndex(node), c.appliedIndex(leader)) << "node " << node << " did not catch up";
    }
    const std::string problem = w.Check();
    EXPECT_TRUE(problem.empty()) << problem;
  });
}

TEST(Lab3A, ManyPartitionsOneClient) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 1, .partitions = true}); });
}

TEST(Lab3A, ManyPartitionsManyClients) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 5, .partitions = true}); });
}

TEST(Lab3A, PersistOneClient) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 1, .crash = true}); });
}

TEST(Lab3A, PersistConcurrent) {
  ForSeeds([](uint64_t seed) { GenericTest(seed, {.clients = 5, .crash = true}); });
}

TEST(Lab3A, PersistConcurrentUnreliable) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 5, .unreliable = true, .crash = true});
  });
}

TEST(Lab3A, PersistPartition) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 5, .crash = true, .partitions = true});
  });
}

TEST(Lab3A, PersistPartitionUnreliable) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 5, .unreliable = true, .crash = true, .partitions = true});
  });
}

TEST(Lab3A, PersistPartitionUnreliableLinearizable) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 15, .servers = 7, .unreliable = true, .crash = true,
                       .partitions = true, .randomKeys = true});
  });
}

// ---------------------------------------------------------------- 3B

constexpr uint64_t kMaxRaftState = 1000;

// A follower cut off while the others compact their logs can only catch
// up by InstallSnapshot, and must then serve with the installed state.
TEST(Lab3B, SnapshotRPC) {
  ForSeeds([](uint64_t seed) {
    KvCluster kc(3, seed, kMaxRaftState);
    Cluster& c = *kc.cluster;
    KvWorkloadOptions wo;
    wo.clients = 2;
    KvWorkload w(c, wo);
    w.Start();
    c.RunFor(kSecond);
    c.Partition({{1, 2}, {3}});
    c.RunFor(3 * kSecond);  // many commands: nodes 1 and 2 compact past what 3 has
    ASSERT_FALSE(c.failed()) << c.failure();
    EXPECT_GT(c.snapshotIndex(1), c.appliedIndex(3)) << "node 1 did not compact past node 3";
    c.Partition({{1, 3}, {2}});  // progress now needs node 3
    c.RunFor(3 * kSecond);
    c.HealPartitions();
    w.Stop();
    ASSERT_TRUE(w.WaitIdle(30 * kSecond));
    c.RunFor(kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    EXPECT_GT(kc.app(3).installs(), 0u) << "node 3 caught up without a snapshot";
    EXPECT_GT(kc.book.size(), 0u);
    const std::string problem = w.Check();
    EXPECT_TRUE(problem.empty()) << problem;
  });
}

// The log stays small: a few snapshots' worth of commands at most.
TEST(Lab3B, SnapshotSize) {
  ForSeeds([](uint64_t seed) {
    KvCluster kc(3, seed, kMaxRaftState);
    Cluster& c = *kc.cluster;
    KvWorkloadOptions wo;
    wo.clients = 1;
    wo.ownKeys = true;
    KvWorkload w(c, wo);
    w.Start();
    ASSERT_TRUE(c.RunUntil([&] { return w.answered() >= 200; }, 60 * kSecond));
    w.Stop();
    ASSERT_TRUE(w.WaitIdle(5 * kSecond));
    c.RunFor(kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    for (int i = 1; i <= c.size(); ++i) {
      EXPECT_GT(c.snapshotIndex(i), 0u) << "node " << i << " never took a snapshot";
      EXPECT_LE(LogBytes(c, i), 8 * kMaxRaftState) << "node " << i << "'s log is not compacted";
    }
    const std::string problem = w.Check();
    EXPECT_TRUE(problem.empty()) << problem;
  });
}

TEST(Lab3B, Speed) {
  ForSeeds([](uint64_t seed) { SpeedTest(seed, kMaxRaftState); });
}

TEST(Lab3B, SnapshotRecover) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 1, .crash = true, .maxRaftState = kMaxRaftState});
  });
}

TEST(Lab3B, SnapshotRecoverManyClients) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 20, .crash = true, .maxRaftState = kMaxRaftState});
  });
}

TEST(Lab3B, SnapshotUnreliable) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 5, .unreliable = true, .maxRaftState = kMaxRaftState});
  });
}

TEST(Lab3B, SnapshotUnreliableRecover) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 5, .unreliable = true, .crash = true, .maxRaftState = kMaxRaftState});
  });
}

TEST(Lab3B, SnapshotUnreliableRecoverConcurrentPartition) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 5, .unreliable = true, .crash = true, .partitions = true,
                       .maxRaftState = kMaxRaftState});
  });
}

TEST(Lab3B, SnapshotUnreliableRecoverConcurrentPartitionLinearizable) {
  ForSeeds([](uint64_t seed) {
    GenericTest(seed, {.clients = 15, .servers = 7, .unreliable = true, .crash = true,
                       .partitions = true, .maxRaftState = kMaxRaftState, .randomKeys = true});
  });
}

// ---------------------------------------------------------------- exactly-once

// Proposes `command` at the leader and runs until that node applies it;
// the reply, or nullopt if it did not commit there in time.
std::optional<statemachine::Reply> Propose(KvCluster& kc, const std::string& command,
                                           uint64_t* index = nullptr) {
  Cluster& c = *kc.cluster;
  const int leader = c.CheckOneLeader();
  if (leader == 0) return std::nullopt;
  const StartResult r = c.Start(leader, command);
  if (!r.isLeader) return std::nullopt;
  if (index != nullptr) *index = r.index;
  std::optional<statemachine::Reply> reply;
  c.SetApplyHook([&](int node, const raft::Entry& e, const std::string& bytes) {
    if (node != leader || e.index != r.index) return;
    statemachine::Reply decoded;
    if (e.data == command && statemachine::DecodeReply(bytes, &decoded).ok()) reply = decoded;
  });
  c.RunUntil([&] { return reply.has_value() || c.appliedIndex(leader) >= r.index; }, 5 * kSecond);
  c.SetApplyHook(nullptr);
  return reply;
}

std::string Encoded(statemachine::Operation op, uint64_t client, uint64_t seq, const std::string& key,
                    const std::string& value) {
  statemachine::Command cmd;
  cmd.op = op;
  cmd.clientId = client;
  cmd.sequence = seq;
  cmd.firstOutstanding = seq;
  cmd.leaderTimeMs = 1;
  cmd.key = key;
  cmd.value = value;
  return statemachine::EncodeCommand(cmd);
}

uint64_t Register(KvCluster& kc) {
  const auto reply = Propose(kc, Encoded(statemachine::Operation::kRegisterClient, 0, 0, "", ""));
  EXPECT_TRUE(reply && reply->ok() && reply->clientId != 0);
  return reply ? reply->clientId : 0;
}

std::optional<std::string> ValueAt(KvCluster& kc, int node, const std::string& key) {
  statemachine::Reply r;
  EXPECT_TRUE(kc.app(node).kv()->Get(key, &r).ok());
  return r.value;
}

// The client's Append reaches the old leader's log and a follower's, and
// the old leader is cut off before answering; the client retries with the
// same sequence number at the new leader, so the log holds the command
// twice. It takes effect once, and the retry gets the original reply.
TEST(KvExactlyOnce, RetriedAppendAcrossALeaderChangeAppliesOnce) {
  ForSeeds([](uint64_t seed) {
    KvCluster kc(3, seed, 0);
    Cluster& c = *kc.cluster;
    const uint64_t client = Register(kc);
    const std::string append = Encoded(statemachine::Operation::kAppend, client, 1, "k", "x");
    const int old = c.CheckOneLeader();
    const StartResult first = c.Start(old, append);
    ASSERT_TRUE(first.isLeader);
    ASSERT_TRUE(c.RunUntil(
        [&] { return c.lastLogIndex(Peer(c, old, 1)) >= first.index; }, kSecond));
    c.Disconnect(old);
    uint64_t second = 0;
    const auto reply = Propose(kc, append, &second);
    ASSERT_TRUE(reply.has_value()) << "the retry did not commit";
    EXPECT_EQ(reply->code, statemachine::ReplyCode::kOk);
    c.Connect(old);
    c.RunFor(2 * kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    std::string at;
    ASSERT_EQ(c.NCommitted(first.index, &at), 3) << "the first proposal was meant to commit";
    EXPECT_EQ(at, append);
    EXPECT_GT(second, first.index);
    for (int i = 1; i <= c.size(); ++i) EXPECT_EQ(ValueAt(kc, i, "k"), "x") << "node " << i;
  });
}

// All nodes crash after the Append committed, before the client heard; the
// kv instances reopen at their last flush and replay the log, and the
// retried Append is still recognised as applied.
TEST(KvExactlyOnce, RetriedAppendAfterAClusterRestartAppliesOnce) {
  ForSeeds([](uint64_t seed) {
    KvCluster kc(3, seed, 0);
    Cluster& c = *kc.cluster;
    const uint64_t client = Register(kc);
    const std::string append = Encoded(statemachine::Operation::kAppend, client, 1, "k", "x");
    const auto original = Propose(kc, append);
    ASSERT_TRUE(original.has_value());
    for (int i = 1; i <= c.size(); ++i) c.Crash(i);
    for (int i = 1; i <= c.size(); ++i) c.Restart(i);
    const auto retried = Propose(kc, append);
    ASSERT_TRUE(retried.has_value()) << "the retry did not commit";
    EXPECT_EQ(*retried, *original) << "the retry must get the original reply";
    c.RunFor(kSecond);
    ASSERT_FALSE(c.failed()) << c.failure();
    for (int i = 1; i <= c.size(); ++i) EXPECT_EQ(ValueAt(kc, i, "k"), "x") << "node " << i;
  });
}

}  // namespace
}  // namespace kvraft::sim
