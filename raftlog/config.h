#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "raftlog/types.h"

namespace kvraft::raft {

// Knobs of one core. Time is counted in ticks; the node decides how long a
// tick is (kvd: --tick_ms).
struct Config {
  NodeId id = kNoNode;
  // The voters of a new cluster; ignored once storage holds a configuration.
  std::vector<NodeId> voters;

  // Ticks without hearing from a leader before a follower campaigns; each
  // timeout is drawn from [electionTick, 2*electionTick) (§5.2). Larger
  // means slower failover but fewer needless elections on a slow network.
  int electionTick = 10;
  // Ticks between leader heartbeats. Must be well below electionTick; 1/10
  // keeps followers from timing out after a few lost heartbeats.
  int heartbeatTick = 1;
  // §9.6 pre-vote: a candidate first asks whether it could win, so that a
  // node cut off from the cluster does not raise everyone's term on return.
  bool preVote = true;
  // §6.2 check-quorum: a leader steps down after an election timeout
  // without hearing from a quorum; followers then ignore votes while they
  // hear from a leader (the lease that makes pre-vote effective).
  bool checkQuorum = true;

  // Upper bound on the entry bytes in one AppendEntries. Larger batches cut
  // per-message cost; smaller ones cut the latency of a retransmit. 1 MiB
  // holds ~3,500 256-byte commands.
  uint64_t maxSizePerMsg = 1 << 20;
  // AppendEntries allowed in flight to one follower in Replicate state. With
  // maxSizePerMsg this bounds the bytes sent ahead of acknowledgements
  // (64 x 1 MiB covers the bandwidth-delay product of any LAN).
  size_t maxInflightMsgs = 64;
  // Upper bound on the committed entry bytes handed out in one Ready.
  uint64_t maxCommittedSizePerReady = 4 << 20;
  // Bytes of snapshot data per InstallSnapshot chunk.
  uint64_t snapshotChunkBytes = 1 << 20;

  // Seeds the core's only source of randomness (election timeouts).
  uint64_t randomSeed = 1;
};

}  // namespace kvraft::raft
