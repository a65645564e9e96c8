#pragma once
// The Raft consensus core: a deterministic state machine with no threads,
// clocks, sockets or disk I/O of its own. The node drives it:
//
//   Tick()               every tick of the node's clock
//   Step(message)        for every message received from a peer
//   Propose(data)        to append a command (leader only)
//   ReadIndex(id)        to start a linearizable read (leader only, §6.4)
//   HasReady()/GetReady()  to collect one batch of work; see Ready in types.h
//                        for the order in which the node must carry it out
//   Advance(ready)       once that batch is durable, sent and applied
//
// Only one Ready is outstanding at a time. Everything the core decides
// follows from its inputs and Config::randomSeed, so a whole cluster of
// cores runs reproducibly under a simulated clock and network.
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raftlog/config.h"
#include "raftlog/progress.h"
#include "raftlog/raft_log.h"
#include "raftlog/snapshot_source.h"
#include "raftlog/status.h"
#include "raftlog/storage.h"
#include "raftlog/types.h"

namespace kvraft::raft {

class Raft {
 public:
  // Both must outlive the core; it only reads through them.
  Raft(const Config& config, const Storage* storage, const SnapshotSource* snapshots);

  void Tick();
  Status Step(const Message& m);
  // Appends `data` as a new entry; on success sets its index and term. The
  // command is committed once an entry with that index and term is applied.
  Status Propose(std::string data, uint64_t* index, uint64_t* term);
  // Asks for a read index. The answer comes back in Ready::readStates (or
  // Ready::droppedReads if leadership is lost first).
  Status ReadIndex(uint64_t requestId);

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& ready);

  // --- inspection (tests, status pages) ---
  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  uint64_t currentTerm() const { return currentTerm_; }
  NodeId votedFor() const { return votedFor_; }
  NodeId leader() const { return leader_; }
  uint64_t commitIndex() const { return log_.committed(); }
  const RaftLog& log() const { return log_; }
  const std::vector<NodeId>& voters() const { return voters_; }
  const Progress* progress(NodeId peer) const;

 private:
  // Role transitions (§5.2).
  void BecomeFollower(uint64_t term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void ResetForTerm(uint64_t term);
  void Campaign(bool preVote);

  // Ticks.
  void TickElection();
  void TickHeartbeat();

  // Step: the rules common to all roles, then the role's own handler.
  bool StepTermRules(const Message& m);  // false: the message is fully handled
  void StepFollower(const Message& m);
  void StepCandidate(const Message& m);
  void StepLeader(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleInstallSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleSnapshotResponse(const Message& m);

  // Leader: replication.
  void AppendOwn(std::vector<Entry> entries);
  bool MaybeCommit();
  void SendAppend(NodeId to, bool allowEmpty);
  void SendHeartbeat(NodeId to);
  void SendSnapshotChunk(NodeId to);
  void StartSnapshot(NodeId to);
  void FlushLeaderSends();
  uint64_t SelfMatch() const;

  // ReadIndex (§6.4).
  void RegisterRead(uint64_t requestId);
  void ConfirmReads();
  void DropReads();

  void Send(Message m);
  size_t Quorum() const { return voters_.size() / 2 + 1; }
  bool IsVoter(NodeId id) const;
  HardState CurrentHardState() const;
  SoftState CurrentSoftState() const { return {leader_, role_}; }

  const Config config_;
  const Storage* storage_;
  const SnapshotSource* snapshots_;
  RaftLog log_;
  std::mt19937_64 rng_;
  std::vector<NodeId> voters_;

  // Figure 2 persistent state (commitIndex lives in log_).
  uint64_t currentTerm_ = 0;
  NodeId votedFor_ = kNoNode;

  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  int electionElapsed_ = 0;   // ticks since the last valid leader contact or election start
  int heartbeatElapsed_ = 0;  // leader: ticks since the last heartbeat
  int randomizedElectionTimeout_ = 0;
  std::map<NodeId, bool> votes_;  // candidate: who answered, and how

  // Leader state.
  std::map<NodeId, Progress> progress_;  // followers only; the leader's own match is SelfMatch()
  bool needBroadcast_ = false;           // new entries to send at the next Ready

  // ReadIndex state.
  struct PendingRead {
    uint64_t requestId;
    uint64_t index;
    uint64_t round;
  };
  std::vector<uint64_t> readsAwaitingCommit_;  // before the leader commits in its term
  std::vector<PendingRead> pendingReads_;      // in round order
  uint64_t readRound_ = 0;
  bool readRoundWanted_ = false;
  std::vector<ReadState> readStates_;
  std::vector<uint64_t> droppedReads_;

  // Follower: the snapshot being received in chunks (Figure 13).
  struct Receiving {
    SnapshotMeta meta;
    uint64_t nextOffset = 0;
  };
  std::optional<Receiving> receiving_;
  std::vector<SnapshotChunk> stagedChunks_;

  // Output queued for the next Ready.
  std::vector<Message> eagerMsgs_;
  std::vector<Message> msgs_;
  HardState handedHardState_;
  SoftState handedSoftState_;
  bool readyInFlight_ = false;
};

}  // namespace kvraft::raft
