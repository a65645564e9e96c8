#pragma once
// Node: one running kvraft replica. It owns the Raft core, the RocksDB log
// store, the kv replica and the links to its peers, and runs the loop that
// drives the core (DESIGN.md, "The node at run time"):
//
//   wait for input or the next tick
//   -> step peer messages, propose commands, start ReadIndex rounds, tick
//   -> for each Ready: send eager messages; install a snapshot; persist
//      hard state and entries in one synced write (a commit index alone
//      waits for the next write or tick); send the messages that
//      promise durability; apply committed entries and answer the calls
//      waiting on them; serve confirmed reads; Advance
//   -> between Readys: start a snapshot if one is due (its checkpoint runs
//      on a thread of its own) and compact the log through a finished one.
//
// One pass of the loop at a time touches the core and the stores' write
// side: whoever starts a pass claims it (passRunning_, under mu_), and
// before letting go looks at the inbox once more. A thread that queues work
// while no pass runs (a peer link's IO thread in Deliver; a Thrift handler
// in Propose or WaitReadable, unless the node is a leader with entries
// waiting for acks) runs the pass itself; one that queues work while a pass
// runs leaves it to that pass. Either way nobody wakes the loop thread,
// which saves a thread switch on each side of every message and call. The
// loop thread runs passes for ticks, tasks, snapshot chunks, a busy
// leader's calls (its wake-up lets more of them join one log write) and
// the work a borrowed thread leaves over. Handler threads then block until
// the loop answers or a deadline passes; they read the kv state directly
// (KvStateMachine reads are thread-safe).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/ack_wait.h"
#include "core/cluster_config.h"
#include "core/kv_replica.h"
#include "core/loop_stats.h"
#include "core/peer_sender.h"
#include "raftlog/raft.h"
#include "raftlog/rocksdb_storage.h"
#include "raftlog/status.h"
#include "statemachine/reply.h"

namespace kvraft::core {

using Clock = std::chrono::steady_clock;

class Node {
 public:
  struct Options {
    ClusterConfig cluster;
    std::string dataDir;
    // Raft timing: a tick every tickMs; election timeout electionTicks..2x
    // that; a heartbeat every heartbeatTicks.
    int tickMs = 10;
    int electionTicks = 10;
    int heartbeatTicks = 1;
    uint64_t logCacheBytes = 16 << 20;        // RocksDbStorage::Options::tailCacheBytes
    KvReplica::Options replica;               // dataDir is filled in by Open
    PeerSender::Options peer;
    // Peer messages waiting for the loop, in bytes: past this the newest are
    // dropped (Raft retransmits) rather than letting memory grow.
    uint64_t maxInboxBytes = 256 << 20;
    // Proposals waiting to enter the log: past this, new ones get UNAVAILABLE.
    size_t maxPendingProposals = 100000;
  };

  // Opens (or creates) the stores in options.dataDir. Starts nothing.
  static Status Open(Options options, std::unique_ptr<Node>* out);
  ~Node();  // Stop()s

  // Starts the loop and the peer links.
  void Start();
  // New calls and every waiting call get UNAVAILABLE from now on; the loop
  // keeps running so peers are still served until Stop().
  void BeginShutdown();
  // Stops the loop and the peer links and closes the stores cleanly.
  void Stop();

  // From peer connections: messages for the core.
  void Deliver(std::vector<raft::Message> messages, uint64_t bytes);

  // The outcome of a call that waited on the loop.
  enum class Outcome {
    kDone,         // applied (Propose) or readable (WaitReadable)
    kNotLeader,    // not the leader, or lost leadership first: see leaderHint()
    kTimeout,      // the deadline passed first; a proposal may still be applied
    kUnavailable,  // shutting down, or too much queued
  };
  struct ProposeResult {
    Outcome outcome = Outcome::kUnavailable;
    statemachine::Reply reply;  // kDone: what applying the command answered
    std::string message;        // otherwise: why
    // Otherwise: the command entered this node's log (and so may still be
    // applied), or was refused before that.
    bool inLog = false;
  };
  // Appends `command` (an EncodeCommand result) to the log and waits until
  // its own entry is applied at the index it was given. If another entry
  // lands there, or this node stops being leader first, kNotLeader.
  ProposeResult Propose(std::string command, Clock::time_point deadline);

  struct ReadResult {
    Outcome outcome = Outcome::kUnavailable;
    std::string message;
  };
  // Waits until a linearizable read may be served here: this node was the
  // leader when the read arrived, a quorum confirmed it still is (ReadIndex),
  // and the state machine has applied up to that read index.
  ReadResult WaitReadable(Clock::time_point deadline);

  // Propose for several commands at once, and WaitReadable too if `read` is
  // given, in one hand-off to the loop: the commands enter the log together
  // in this order, and each gets its own result.
  std::vector<ProposeResult> ProposeAll(std::vector<std::string> commands,
                                        Clock::time_point deadline, ReadResult* read);

  const statemachine::KvStateMachine& kv() const { return replica_->kv(); }
  const ClusterConfig& cluster() const { return options_.cluster; }

  // The leader's view of one follower.
  struct PeerInfo {
    raft::NodeId id = raft::kNoNode;
    uint64_t matchIndex = 0;
    uint64_t nextIndex = 0;
    const char* state = "";
  };
  struct StatusInfo {
    raft::Role role = raft::Role::kFollower;
    uint64_t term = 0;
    raft::NodeId leader = raft::kNoNode;
    uint64_t commitIndex = 0;
    uint64_t appliedIndex = 0;
    uint64_t lastLogIndex = 0;
    uint64_t snapshotIndex = 0;
    std::vector<raft::NodeId> voters;
    std::vector<PeerInfo> peers;  // leader only
  };
  StatusInfo status() const;

  // Operators' commands (kvadmin). SnapshotNow takes a snapshot at the
  // applied index on the loop (between Readys, like the automatic ones) and
  // compacts the log through it; *index is the index the latest snapshot
  // covers afterwards. CompactStorage compacts both RocksDB instances on the
  // calling thread.
  Status SnapshotNow(Clock::time_point deadline, uint64_t* index);
  Status CompactStorage();
  // The leader as last seen by the loop (kNoNode: unknown).
  raft::NodeId leaderHint() const;

 private:
  // Where the loop leaves the results of one ProposeAll call. The caller
  // sleeps once, until all of them are in, rather than once per proposal
  // while the loop hands them out one by one.
  class Completion {
   public:
    Completion(size_t proposals, bool read);
    void SetProposal(size_t slot, ProposeResult result);
    void SetRead(ReadResult result);
    bool Answered() const;
    // Waits until every result is in or `deadline` passes; then moves out
    // the results that are in and returns which are (proposals, then the read).
    std::vector<bool> Wait(Clock::time_point deadline, std::vector<ProposeResult>* proposals,
                           ReadResult* read);

   private:
    mutable std::mutex mu_;
    std::condition_variable done_;
    std::vector<ProposeResult> proposals_;
    ReadResult read_;
    std::vector<bool> set_;  // proposals, then the read if asked for
    size_t remaining_;
  };
  // One proposal's place in its Completion.
  struct ProposalSlot {
    std::shared_ptr<Completion> completion;
    size_t slot = 0;
    void set_value(ProposeResult result) const { completion->SetProposal(slot, std::move(result)); }
  };
  struct ReadSlot {
    std::shared_ptr<Completion> completion;
    void set_value(ReadResult result) const { completion->SetRead(std::move(result)); }
  };
  struct PendingProposal {
    std::string command;
    ProposalSlot done;
  };
  struct Waiter {
    uint64_t term;
    ProposalSlot done;
  };
  // What handler threads queue for the loop.
  struct Inbox {
    std::vector<raft::Message> messages;
    uint64_t messageBytes = 0;
    std::vector<PendingProposal> proposals;
    std::vector<ReadSlot> reads;
    std::vector<std::function<void()>> tasks;  // run on the loop between Readys
    // Whether the loop must wake for what is here, messages aside: those
    // are judged against the loop's latest state (MessagesCanWait), since
    // an ack that was urgent when it arrived may not be after a pass.
    bool NeedsLoop() const { return !proposals.empty() || !reads.empty() || !tasks.empty(); }
  };
  AckWaitState CurrentAckWaitState() const;  // with the pass
  static bool MessagesCanWait(const std::vector<raft::Message>& messages, const AckWaitState& state);

  explicit Node(Options options) : options_(std::move(options)) {}
  void Run();
  // Who runs passes, which decides when it stops: the loop thread while
  // there is work; a peer link's IO thread after one pass, to read the link
  // again; a handler thread once its own call is answered (or after
  // kMaxCallerPasses, so that a busy node does not keep it from answering).
  enum class PassRunner { kLoop, kPeerLink, kCaller };
  static constexpr int kMaxCallerPasses = 4;
  // With the pass claimed (passRunning_ set by this thread): runs passes
  // until `runner` stops, then lets go of the claim; work left over goes to
  // the loop thread. `mine` is the caller's own call, or null.
  void RunPasses(PassRunner runner, const Completion* mine);
  // One pass of the loop: take the inbox, step it, tick, handle every Ready.
  void RunOnce();
  // Under mu_: whether the inbox needs a pass now.
  bool LoopHasWorkLocked() const;
  // What the loop thread sleeps on: under mu_, from the state of the loop.
  void PublishLoopState();
  void TakeInput(Inbox& in);
  void HandleReady();
  // Writes the Ready's hard state and entries. A hard state that differs
  // from the stored one only in its commit index is held back for the next
  // write (see the .cc).
  void SaveToLog(const raft::Ready& rd);
  // Writes a held-back commit index on its own: between ticks, so the stored
  // one trails by at most a tick, and before the loop stops.
  void SaveHeldCommit();
  void FailOlderTermWaiters(const raft::Ready& rd);
  void ApplyCommitted(const std::vector<raft::Entry>& committed);
  void ServeReads(const raft::Ready& rd);
  void SendAll(const std::vector<raft::Message>& messages);
  void NoteLogWrite(size_t entries, bool synced, Clock::duration took);
  // Flushes the kv memtables on a thread of its own (KvReplica::FlushAheadDue).
  void FlushAhead();
  // Snapshots: the checkpoint on a thread of its own, then the log
  // compaction on the loop (KvReplica::Checkpoint, CompactLog).
  void SnapshotIfDue();
  void CheckpointTaken(const Status& s, const statemachine::SnapshotInfo& info, Clock::duration took);
  void CompactLogIfReady();
  // Queues `task` to run on the loop between Readys.
  void RunOnLoop(std::function<void()> task);
  void FailWaiters(Outcome outcome, const std::string& why);
  void PublishStatus();
  std::string NotLeaderMessage() const;

  const Options options_;
  std::unique_ptr<raft::RocksDbStorage> storage_;
  std::unique_ptr<KvReplica> replica_;
  std::unique_ptr<raft::Raft> core_;
  std::map<raft::NodeId, std::unique_ptr<PeerSender>> peers_;
  std::thread loop_;
  std::thread flusher_;                    // started and joined by the loop (and Stop)
  std::atomic<bool> flushingAhead_{false};
  std::thread checkpointer_;  // started by the loop, joined by the loop and Stop

  // Handler threads -> loop.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  Inbox inbox_;          // under mu_
  bool stopping_ = false;      // under mu_: the loop exits
  bool shuttingDown_ = false;  // under mu_: calls are refused
  StatusInfo status_;          // under mu_: published by the loop
  AckWaitState ackWait_;       // under mu_: published by the loop
  Clock::time_point publishedNextTick_{};   // under mu_: published by the loop
  bool publishedFailedForShutdown_ = false;  // under mu_: published by the loop

  // Under mu_: some thread runs passes; it alone may touch the core, the
  // stores' write side and everything below "With the pass" here.
  bool passRunning_ = false;
  bool loopWaitsForPass_ = false;  // under mu_: the loop thread waits for passRunning_ to clear

  // With the pass.
  Inbox loopInbox_;
  Clock::time_point nextTick_{};
  bool failedForShutdown_ = false;  // the waiting calls were answered UNAVAILABLE

  std::map<uint64_t, Waiter> waiters_;  // proposals by log index
  uint64_t nextReadId_ = 1;
  std::map<uint64_t, ReadSlot> readsAwaitingIndex_;  // by ReadIndex request id
  std::multimap<uint64_t, ReadSlot> readsAwaitingApply_;  // by read index
  raft::Role role_ = raft::Role::kFollower;
  // Newer than the log store's hard state in its commit index only.
  std::optional<raft::HardState> heldHardState_;
  // From the start of a checkpoint until the log is compacted through it
  // (or an install made that moot): no other snapshot starts meanwhile.
  bool snapshotting_ = false;
  std::optional<statemachine::SnapshotInfo> toCompact_;  // checkpoint taken, log not yet compacted
  Clock::duration checkpointTook_{};
  LoopStats stats_;
  Clock::time_point nextStatsLog_{};  // {}: not yet started
  Clock::time_point lastSlowWriteWarning_{};
};

}  // namespace kvraft::core
