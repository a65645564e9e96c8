#pragma once
// What the 6.824-style scenario tests share: the lab's timing constants,
// its node arithmetic, and running one scenario under several seeds.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "tests/sim/cluster.h"

namespace kvraft::sim {

// 6.824's RaftElectionTimeout: the longest a test waits for an election to
// settle. Our election timeouts are 100-200 ms, so 1 s leaves room for a
// few split votes, as it does in the lab.
constexpr uint64_t kElectionTimeoutUs = 1'000'000;

// Seeds 1..kSeeds: each is a different, exactly replayable schedule.
constexpr uint64_t kSeeds = 10;

inline SimOptions LabOptions(int nodes, uint64_t seed) {
  SimOptions o;
  o.nodes = nodes;
  o.seed = seed;
  return o;
}

// 6.824 writes (leader + k) % servers with servers numbered from 0.
inline int Peer(const Cluster& c, int node, int k) { return (node - 1 + k) % c.size() + 1; }

inline int RandomNode(const Cluster& c, std::mt19937_64& rng) {
  return static_cast<int>(rng() % c.size()) + 1;
}

inline std::string RandomCommand(std::mt19937_64& rng) {
  return std::to_string(rng() % 1'000'000'000);
}

// Runs a scenario under every seed, stopping at the first seed that fails
// so that its message is the one to replay.
template <typename Scenario>
void ForEachSeed(Scenario scenario) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    scenario(seed);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace kvraft::sim
