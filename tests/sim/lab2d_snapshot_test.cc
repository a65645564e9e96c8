// MIT 6.824 lab 2D (log compaction) on the deterministic simulator.
//
// Nodes snapshot every kSnapshotEvery applied entries, as the lab's
// applierSnap does every SnapShotInterval. Snapshots carry 2000 bytes of
// filler and InstallSnapshot sends 512-byte chunks, so every install takes
// several chunks (Figure 13 with offsets). The simulator checks each
// restored snapshot against the state every node had at that index, and
// that applied indexes never skip (the lab's applierSnap checks).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "tests/sim/cluster.h"
#include "tests/sim/lab_util.h"

namespace kvraft::sim {
namespace {

constexpr uint64_t kSnapshotEvery = 10;             // 6.824's SnapShotInterval
// 6.824's MAXLOGSIZE is 2000 bytes of Raft state, a few dozen entries of
// its small commands. We bound the entries a node keeps instead: what it
// applied since its last snapshot, plus what is still uncommitted.
constexpr uint64_t kMaxLogEntries = 4 * kSnapshotEvery;

SimOptions Options(int nodes, uint64_t seed) {
  SimOptions o = LabOptions(nodes, seed);
  o.snapshotEvery = kSnapshotEvery;
  o.snapshotPadding = 2000;
  o.snapshotChunkBytes = 512;
  return o;
}

// How many entries past its snapshot a node keeps in its durable log.
uint64_t LogSize(const Cluster& c, int node) {
  return c.storage(node).LastIndex() - c.snapshotIndex(node);
}

// 6.824 snapcommon(): thirty rounds of "cut off (or crash) a follower or
// the leader, propose enough for a snapshot, bring the victim back". A
// victim that comes back behind the leader's snapshot can only catch up by
// InstallSnapshot (§7).
void SnapCommon(uint64_t seed, bool disconnect, bool reliable, bool crash) {
  constexpr int kIters = 30;
  constexpr int kServers = 3;
  Cluster c(Options(kServers, seed));
  std::mt19937_64 rng(seed);
  if (!reliable) c.SetUnreliable(true);

  c.One(RandomCommand(rng), kServers, true);
  ASSERT_FALSE(c.failed()) << c.failure();
  int leader1 = c.CheckOneLeader();
  ASSERT_FALSE(c.failed()) << c.failure();

  int installsNeeded = 0;  // rounds where the victim was behind the leader's snapshot
  for (int i = 0; i < kIters; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    int victim = Peer(c, leader1, 1);
    int sender = leader1;
    if (i % 3 == 1) {
      sender = Peer(c, leader1, 1);
      victim = leader1;
    }

    if (disconnect) {
      c.Disconnect(victim);
      c.One(RandomCommand(rng), kServers - 1, true);
    }
    if (crash) {
      c.Crash(victim);
      c.One(RandomCommand(rng), kServers - 1, true);
    }
    ASSERT_FALSE(c.failed()) << c.failure();

    // Perhaps send enough to get a snapshot.
    const uint64_t nn = kSnapshotEvery / 2 + rng() % kSnapshotEvery;
    for (uint64_t k = 0; k < nn; ++k) c.Start(sender, RandomCommand(rng));

    // Let applier threads catch up with the Start()'s.
    if (!disconnect && !crash) {
      // Make sure all followers have caught up, so that an InstallSnapshot
      // RPC isn't required for SnapshotBasic.
      c.One(RandomCommand(rng), kServers, true);
    } else {
      c.One(RandomCommand(rng), kServers - 1, true);
    }
    ASSERT_FALSE(c.failed()) << c.failure();

    for (int n = 1; n <= kServers; ++n) {
      if (c.up(n)) {
        EXPECT_LE(LogSize(c, n), kMaxLogEntries) << "log size too large on node " << n;
      }
    }

    if (disconnect || crash) {
      const int leader = c.CheckOneLeader();
      ASSERT_FALSE(c.failed()) << c.failure();
      if (c.storage(leader).FirstIndex() > c.storage(victim).LastIndex() + 1) ++installsNeeded;
    }
    if (disconnect) {
      // Reconnect a follower, who maybe behind and needs to receive a
      // snapshot to catch up.
      c.Connect(victim);
      c.One(RandomCommand(rng), kServers, true);
      leader1 = c.CheckOneLeader();
    }
    if (crash) {
      c.Restart(victim);
      c.Connect(victim);
      c.One(RandomCommand(rng), kServers, true);
      leader1 = c.CheckOneLeader();
    }
    ASSERT_FALSE(c.failed()) << c.failure();
  }
  if (disconnect || crash) {
    // The scenario is about InstallSnapshot: make sure it really ran.
    EXPECT_GT(installsNeeded, 0) << "no victim ever fell behind the leader's snapshot";
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

// Reference: §7. Snapshots taken while every server keeps up: logs stay
// short and nothing is lost.
void SnapshotBasic(uint64_t seed) { SnapCommon(seed, false, true, false); }

// Reference: §7, Figure 13. A follower cut off while the others compact
// past its log catches up from a chunked snapshot.
void SnapshotInstall(uint64_t seed) { SnapCommon(seed, true, true, false); }

// The same on a network that loses, duplicates and reorders chunks.
void SnapshotInstallUnreliable(uint64_t seed) { SnapCommon(seed, true, false, false); }

// The victim crashes instead: it restarts from its own snapshot and log,
// then catches up, by InstallSnapshot if it fell behind.
void SnapshotInstallCrash(uint64_t seed) { SnapCommon(seed, false, true, true); }

void SnapshotInstallUnreliableCrash(uint64_t seed) { SnapCommon(seed, false, false, true); }

// Every server crashes after each burst of commands: each restarts from its
// snapshot plus the log after it, and the log keeps growing from there.
void SnapshotAllCrash(uint64_t seed) {
  constexpr int kServers = 3;
  Cluster c(Options(kServers, seed));
  std::mt19937_64 rng(seed);
  c.One(RandomCommand(rng), kServers, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    // Perhaps enough to get a snapshot.
    const uint64_t nn = kSnapshotEvery / 2 + rng() % kSnapshotEvery;
    for (uint64_t k = 0; k < nn; ++k) c.One(RandomCommand(rng), kServers, true);
    const uint64_t index1 = c.One(RandomCommand(rng), kServers, true);
    ASSERT_FALSE(c.failed()) << c.failure();

    // Crash all, then revive all.
    for (int n = 1; n <= kServers; ++n) c.Crash(n);
    for (int n = 1; n <= kServers; ++n) {
      c.Restart(n);
      c.Connect(n);
    }

    const uint64_t index2 = c.One(RandomCommand(rng), kServers, true);
    ASSERT_FALSE(c.failed()) << c.failure();
    EXPECT_GE(index2, index1 + 1) << "index decreased from " << index1 << " to " << index2;
  }
  EXPECT_FALSE(c.failed()) << c.failure();
}

// A server restarted from a snapshot must initialise its log and applied
// index from it; the lab found implementations that did not only on a
// second crash after one more entry was persisted.
void SnapshotInit(uint64_t seed) {
  constexpr int kServers = 3;
  Cluster c(Options(kServers, seed));
  std::mt19937_64 rng(seed);
  c.One(RandomCommand(rng), kServers, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  // Enough ops to make a snapshot.
  for (uint64_t k = 0; k < kSnapshotEvery + 1; ++k) c.One(RandomCommand(rng), kServers, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  auto crashAndReviveAll = [&] {
    for (int n = 1; n <= kServers; ++n) c.Crash(n);
    for (int n = 1; n <= kServers; ++n) {
      c.Restart(n);
      c.Connect(n);
    }
  };
  crashAndReviveAll();
  // The point of the test is a restart from a snapshot: make sure there is one.
  for (int n = 1; n <= kServers; ++n) {
    EXPECT_GT(c.snapshotIndex(n), 0u) << "node " << n << " restarted without a snapshot";
    EXPECT_GE(c.appliedIndex(n), c.snapshotIndex(n)) << "node " << n << " did not load its snapshot";
  }

  // A single op, to get something to be written back to persistent storage.
  c.One(RandomCommand(rng), kServers, true);
  ASSERT_FALSE(c.failed()) << c.failure();

  crashAndReviveAll();

  // Do another op to trigger potential bug.
  c.One(RandomCommand(rng), kServers, true);
  EXPECT_FALSE(c.failed()) << c.failure();
}

}  // namespace

TEST(Lab2D, SnapshotBasic) { ForEachSeed(SnapshotBasic); }

TEST(Lab2D, SnapshotInstall) { ForEachSeed(SnapshotInstall); }

TEST(Lab2D, SnapshotInstallUnreliable) { ForEachSeed(SnapshotInstallUnreliable); }

TEST(Lab2D, SnapshotInstallCrash) { ForEachSeed(SnapshotInstallCrash); }

TEST(Lab2D, SnapshotInstallUnreliableCrash) { ForEachSeed(SnapshotInstallUnreliableCrash); }

TEST(Lab2D, SnapshotAllCrash) { ForEachSeed(SnapshotAllCrash); }

TEST(Lab2D, SnapshotInit) { ForEachSeed(SnapshotInit); }

}  // namespace kvraft::sim
