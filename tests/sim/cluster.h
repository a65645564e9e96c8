#pragma once
// A whole Raft cluster in one thread: cores from raftlog/, log stores (in
// memory or RocksDB), an application per node (a running hash, or the real
// kv state machine), a simulated clock, disk and network, all decided by
// one seed. Tests drive it by hand (the 6.824
// "config" style); raftsim drives it with a random fault schedule.
//
// Time is simulated microseconds. Nothing here reads a real clock, spawns a
// thread or iterates an unordered container, so a seed replays exactly.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raftlog/memory_storage.h"
#include "raftlog/raft.h"
#include "tests/sim/invariants.h"
#include "tests/sim/sim_app.h"
#include "tests/sim/sim_state_machine.h"

namespace kvraft::sim {

struct SimOptions {
  int nodes = 3;
  uint64_t seed = 1;

  // Clock: one core tick every tickUs.
  uint64_t tickUs = 10'000;
  int electionTick = 10;
  int heartbeatTick = 2;
  bool preVote = true;
  bool checkQuorum = true;
  uint64_t maxSizePerMsg = 64 << 10;
  size_t maxInflightMsgs = 16;
  uint64_t snapshotChunkBytes = 1 << 20;

  // Network: each message is delayed uniformly in [minDelayUs, maxDelayUs],
  // dropped with dropRate, duplicated with dupRate. Links keep order, as the
  // one connection per peer of a real node does, unless `reorder` is set.
  uint64_t minDelayUs = 50;
  uint64_t maxDelayUs = 2'000;
  bool reorder = false;
  double dropRate = 0;
  double dupRate = 0;

  // Disk: a Ready becomes durable after a delay in [min, max]; a crash
  // before then loses it.
  uint64_t minDiskUs = 50;
  uint64_t maxDiskUs = 1'000;

  // A run that needs more events than this is an event storm (a livelock
  // of retransmits or elections) and fails; normal runs need well under a
  // tenth of it.
  uint64_t maxEvents = 5'000'000;

  // Each node's application, made once per node: it keeps what it writes
  // in `dir` (created by the cluster, removed with it). Null: a HashApp
  // with the two settings below.
  std::function<std::unique_ptr<SimApp>(int node, const std::string& dir)> app;
  // HashApp: a node snapshots its state machine and compacts its log once
  // it has applied this many entries past its last snapshot (0: never).
  uint64_t snapshotEvery = 0;
  // HashApp: bytes of filler in each snapshot, so that chunking is exercised.
  size_t snapshotPadding = 0;

  // Where each node keeps its log: in memory, or in a RocksDbStorage under
  // storeDir/n<id>/raft. Applications keep their files in storeDir/n<id>/app.
  // storeDir empty: a temporary directory that the cluster removes when it
  // is destroyed. Either way a crash loses only the Ready still being
  // written.
  enum class Store { kMemory, kRocksDb };
  Store store = Store::kMemory;
  std::string storeDir;
  uint64_t tailCacheBytes = 16 << 20;  // RocksDbStorage::Options::tailCacheBytes

  bool trace = false;  // print every event to stdout
};

// How the unreliable network of the 6.824 tests behaves.
struct Unreliable {
  double dropRate = 0.1;
  double dupRate = 0.02;
  uint64_t maxDelayUs = 27'000;  // "long reordering"
  bool reorder = true;
};

struct StartResult {
  uint64_t index = 0;
  uint64_t term = 0;
  bool isLeader = false;
};

class Cluster {
 public:
  explicit Cluster(const SimOptions& options);
  ~Cluster();

  int size() const { return static_cast<int>(nodes_.size()); }
  uint64_t now() const { return now_; }
  const SimOptions& options() const { return options_; }

  // --- running ---
  // Process events until `us` simulated microseconds have passed, or an
  // invariant fails.
  void RunFor(uint64_t us);
  // Run until pred() holds (checked after each event) or maxUs passes.
  bool RunUntil(const std::function<bool()>& pred, uint64_t maxUs);

  // --- faults. Nodes are numbered 1..size(). ---
  void Disconnect(int node);  // cut every link to and from the node
  void Connect(int node);
  bool connected(int node) const;
  // Partition into groups; nodes not named form one more group.
  void Partition(const std::vector<std::vector<int>>& groups);
  void HealPartitions();  // reconnect every link: partitions and Disconnect()s
  void SetUnreliable(bool on, Unreliable u = Unreliable());
  void Crash(int node);    // loses all not yet durable, and all volatile state
  void Restart(int node);  // from what is durable
  bool up(int node) const;

  // --- clients ---
  // rf.Start(): propose on `node`. isLeader=false if the node is down or
  // not the leader.
  StartResult Start(int node, const std::string& command);
  // Asks `node` for a read index; `onRead(index)` runs once the node has
  // applied through it, `onDropped()` if it never will.
  bool ReadIndex(int node, std::function<void(uint64_t)> onRead,
                 std::function<void()> onDropped);

  // --- observation ---
  raft::Role role(int node) const;
  uint64_t term(int node) const;
  bool isLeader(int node) const { return up(node) && role(node) == raft::Role::kLeader; }
  uint64_t commitIndex(int node) const;
  uint64_t appliedIndex(int node) const;
  uint64_t lastLogIndex(int node) const;
  uint64_t snapshotIndex(int node) const;       // last durable snapshot
  const raft::Raft* core(int node) const;       // nullptr while down
  const raft::Storage& storage(int node) const;  // what is durable
  // The command node applied at `index`, if it has applied it and not
  // compacted it from its record.
  std::optional<std::string> Applied(int node, uint64_t index) const;
  // 6.824 nCommitted: how many up nodes applied `index`, and the command.
  // Fails the run (see failure()) if two nodes applied different commands.
  int NCommitted(uint64_t index, std::string* command);

  // --- 6.824 helpers (fail the run with a message when they fail) ---
  // The one leader among connected up nodes: up to 10 rounds of ~0.5 s of
  // simulated time; 0 and failure() set if none, or two in one term.
  int CheckOneLeader();
  // No connected node thinks it is leader.
  bool CheckNoLeader();
  // All connected up nodes agree on the term; returns it.
  uint64_t CheckTerms();
  // Submit `command` until `expectedServers` nodes applied it (10 s
  // simulated); returns its index, 0 on failure.
  uint64_t One(const std::string& command, int expectedServers, bool retry);
  // Wait until at least `n` nodes applied `index`; returns the command.
  // Only commands are recorded, so waiting on a leader's no-op fails.
  std::optional<std::string> Wait(uint64_t index, int n, uint64_t startTerm);

  uint64_t stateHash(int node) const;           // SimApp::stateHash
  SimApp& app(int node);
  const SimApp& app(int node) const;
  // Called after every entry a node applies, with the application's reply
  // (clients use it to learn that their command committed, and its answer).
  using ApplyHook = std::function<void(int node, const raft::Entry&, const std::string& reply)>;
  void SetApplyHook(ApplyHook hook) { applyHook_ = std::move(hook); }

  // --- accounting ---
  uint64_t messageCount() const { return messagesSent_; }
  uint64_t messageBytes() const { return bytesSent_; }
  uint64_t eventCount() const { return events_; }

  // --- invariants ---
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void Fail(const std::string& why);
  Invariants& invariants() { return invariants_; }
  uint64_t traceHash() const { return traceHash_; }

  // Schedules `fn` at now()+delayUs, in event order (for fault scripts).
  void Schedule(uint64_t delayUs, std::function<void()> fn);
  std::mt19937_64& rng() { return rng_; }

 private:
  struct Node;
  struct Event;
  struct EventOrder {
    bool operator()(const Event* a, const Event* b) const;
  };

  Node& node(int i);
  const Node& node(int i) const;
  void OpenStorage(int i);
  void StartNode(int i);
  void Pump(int i);
  void Persisted(int i, uint64_t incarnation);
  void ApplyReady(int i, raft::Ready& rd, uint64_t prevTerm);
  void TakeSnapshotIfDue(int i);
  void SendMessage(const raft::Message& m);
  void Deliver(raft::Message m);
  void TickNode(int i, uint64_t incarnation);
  bool Linked(int from, int to) const;
  void Push(Event* e);
  bool Step();  // one event; false if none
  void Observe(int i);  // invariants after an event at node i
  void Trace(const std::string& line);
  void HashTrace(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0);
  uint64_t RandomIn(uint64_t lo, uint64_t hi);
  bool Chance(double p);

  SimOptions options_;
  std::mt19937_64 rng_;
  uint64_t now_ = 0;
  uint64_t nextEventSeq_ = 0;
  std::priority_queue<Event*, std::vector<Event*>, EventOrder> queue_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::string storeDir_;      // RocksDB stores live here
  bool removeStoreDir_ = false;
  // A link is up when both ends are connected (6.824's disconnect) and in
  // the same partition group. Indexed 1..size().
  std::vector<bool> connected_;
  std::vector<int> group_;
  std::map<std::pair<int, int>, uint64_t> lastDelivery_;  // FIFO links: (from, to) -> time
  Invariants invariants_;
  std::string failure_;
  uint64_t traceHash_ = 1469598103934665603ull;
  uint64_t messagesSent_ = 0;
  uint64_t bytesSent_ = 0;
  uint64_t events_ = 0;
  uint64_t nextReadId_ = 1;
  ApplyHook applyHook_;
};

}  // namespace kvraft::sim
