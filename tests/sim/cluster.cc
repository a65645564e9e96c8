#include "tests/sim/cluster.h"

#include <glog/logging.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "raftlog/rocksdb_storage.h"
#include "tests/sim/hash_app.h"

namespace kvraft::sim {

using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Ready;

struct Cluster::Event {
  enum class Kind { kTick, kDeliver, kPersisted, kCall };
  uint64_t time = 0;
  uint64_t seq = 0;  // ties broken by scheduling order: no pointer or hash order
  Kind kind = Kind::kCall;
  int node = 0;
  uint64_t incarnation = 0;
  Message msg;
  std::function<void()> fn;
};

bool Cluster::EventOrder::operator()(const Event* a, const Event* b) const {
  if (a->time != b->time) return a->time > b->time;
  return a->seq > b->seq;
}

struct Cluster::Node {
  int id = 0;
  bool up = false;
  uint64_t incarnation = 0;
  std::unique_ptr<raft::Storage> storage;  // durable: survives crashes (RocksDB: reopened)
  std::unique_ptr<raft::Raft> core;              // volatile
  std::optional<Ready> inFlight;                 // being written to "disk"
  // Term of the entry before inFlight->entries, as the log stood when the
  // Ready was handed out: by the time the write completes the core may
  // already have replaced that entry (a new leader's AppendEntries).
  uint64_t inFlightPrevTerm = 0;
  std::unique_ptr<SimApp> app;                   // its durable part survives crashes
  std::map<uint64_t, std::string> applied;       // the tester's record; survives crashes
  struct Read {
    std::function<void(uint64_t)> onRead;
    std::function<void()> onDropped;
    uint64_t index = 0;
    bool confirmed = false;
  };
  std::map<uint64_t, Read> reads;
  // Delta invariants within one incarnation.
  uint64_t seenTerm = 0;
  uint64_t seenCommit = 0;
};

Cluster::Cluster(const SimOptions& options) : options_(options), rng_(options.seed) {
  CHECK_GE(options_.nodes, 1);
  connected_.assign(options_.nodes + 1, true);
  group_.assign(options_.nodes + 1, 0);
  if (options_.store == SimOptions::Store::kRocksDb || options_.app) {
    storeDir_ = options_.storeDir;
    if (storeDir_.empty()) {
      // tmpfs when there is one: the stores still sync every Save, but a
      // simulated run should not wait on a real disk's fsync.
      const std::filesystem::path base = std::filesystem::is_directory("/dev/shm")
                                             ? std::filesystem::path("/dev/shm")
                                             : std::filesystem::temp_directory_path();
      std::string tmpl = (base / "raftsim-XXXXXX").string();
      CHECK(mkdtemp(tmpl.data()) != nullptr) << "cannot create a temporary directory";
      storeDir_ = tmpl;
      removeStoreDir_ = true;
    }
  }
  for (int i = 1; i <= options_.nodes; ++i) {
    auto n = std::make_unique<Node>();
    n->id = i;
    if (options_.app) {
      const std::string dir = storeDir_ + "/n" + std::to_string(i) + "/app";
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      CHECK(!ec) << "cannot create " << dir << ": " << ec.message();
      n->app = options_.app(i, dir);
    } else {
      n->app = std::make_unique<HashApp>(options_.snapshotEvery, options_.snapshotPadding);
    }
    nodes_.push_back(std::move(n));
    OpenStorage(i);
  }
  for (int i = 1; i <= options_.nodes; ++i) StartNode(i);
}

Cluster::~Cluster() {
  while (!queue_.empty()) {
    delete queue_.top();
    queue_.pop();
  }
  nodes_.clear();  // closes the stores before their directory goes
  if (removeStoreDir_) {
    std::error_code ec;
    std::filesystem::remove_all(storeDir_, ec);
  }
}

void Cluster::OpenStorage(int i) {
  Node& n = node(i);
  std::vector<NodeId> voters;
  for (int k = 1; k <= options_.nodes; ++k) voters.push_back(static_cast<NodeId>(k));
  if (options_.store == SimOptions::Store::kMemory) {
    auto m = std::make_unique<raft::MemoryStorage>();
    m->Bootstrap(voters);
    n.storage = std::move(m);
    return;
  }
  raft::RocksDbStorage::Options o;
  o.dir = storeDir_ + "/n" + std::to_string(i) + "/raft";
  o.clusterId = "raftsim";
  o.nodeId = static_cast<NodeId>(i);
  o.voters = voters;
  o.tailCacheBytes = options_.tailCacheBytes;
  std::unique_ptr<raft::RocksDbStorage> store;
  n.storage.reset();  // a crash closes the store; RocksDB allows one opener
  const kvraft::Status s = raft::RocksDbStorage::Open(o, &store);
  CHECK(s.ok()) << "node " << i << ": " << s.ToString();
  n.storage = std::move(store);
}

Cluster::Node& Cluster::node(int i) {
  CHECK(i >= 1 && i <= size()) << "no node " << i;
  return *nodes_[i - 1];
}
const Cluster::Node& Cluster::node(int i) const {
  CHECK(i >= 1 && i <= size()) << "no node " << i;
  return *nodes_[i - 1];
}

uint64_t Cluster::RandomIn(uint64_t lo, uint64_t hi) {
  if (hi <= lo) return lo;
  return lo + rng_() % (hi - lo + 1);
}

bool Cluster::Chance(double p) {
  if (p <= 0) return false;
  return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) < p;
}

void Cluster::Push(Event* e) {
  e->seq = nextEventSeq_++;
  queue_.push(e);
}

void Cluster::Schedule(uint64_t delayUs, std::function<void()> fn) {
  auto* e = new Event;
  e->time = now_ + delayUs;
  e->kind = Event::Kind::kCall;
  e->fn = std::move(fn);
  Push(e);
}

// ---------------------------------------------------------------- trace

void Cluster::HashTrace(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  for (uint64_t v : {now_, a, b, c, d}) traceHash_ = MixU64(traceHash_, v);
}

void Cluster::Trace(const std::string& line) {
  if (!options_.trace) return;
  char head[32];
  std::snprintf(head, sizeof head, "%10.3fms ", static_cast<double>(now_) / 1000.0);
  std::printf("%s%s\n", head, line.c_str());
}

namespace {
std::string Describe(const Message& m) {
  std::ostringstream os;
  os << raft::MessageTypeName(m.type) << " " << m.from << "->" << m.to << " t" << m.term;
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kRequestVote:
      os << " last=" << m.lastLogIndex << "/" << m.lastLogTerm;
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kRequestVoteResponse:
      os << (m.success ? " granted" : " rejected");
      break;
    case MessageType::kAppendEntries:
      os << " prev=" << m.prevLogIndex << "/" << m.prevLogTerm << " n=" << m.entries.size()
         << " commit=" << m.leaderCommit << " round=" << m.readRound;
      break;
    case MessageType::kAppendEntriesResponse:
      if (m.success) {
        os << " ok match=" << m.matchIndex;
      } else {
        os << " reject=" << m.rejectIndex << " hint=" << m.conflictIndex << "/" << m.conflictTerm;
      }
      break;
    case MessageType::kInstallSnapshot:
      os << " snap=" << m.snapshot.lastIncludedIndex << " off=" << m.offset << " len=" << m.data.size()
         << (m.done ? " done" : "");
      break;
    case MessageType::kInstallSnapshotResponse:
      os << " snap=" << m.snapshot.lastIncludedIndex << (m.done ? " done match=" : " next=")
         << (m.done ? m.matchIndex : m.offset);
      break;
    case MessageType::kTimeoutNow:
      break;
  }
  return os.str();
}
}  // namespace

// ---------------------------------------------------------------- nodes

void Cluster::StartNode(int i) {
  Node& n = node(i);
  raft::Config cfg;
  cfg.id = static_cast<NodeId>(i);
  cfg.electionTick = options_.electionTick;
  cfg.heartbeatTick = options_.heartbeatTick;
  cfg.preVote = options_.preVote;
  cfg.checkQuorum = options_.checkQuorum;
  cfg.maxSizePerMsg = options_.maxSizePerMsg;
  cfg.maxInflightMsgs = options_.maxInflightMsgs;
  cfg.snapshotChunkBytes = options_.snapshotChunkBytes;
  cfg.randomSeed = rng_();
  const kvraft::Status started = n.app->Start(n.storage.get());
  if (!started.ok()) return Fail("node " + std::to_string(i) + " cannot start: " + started.ToString());
  n.core = std::make_unique<raft::Raft>(cfg, n.storage.get(), &n.app->snapshots());
  n.up = true;
  ++n.incarnation;
  n.seenTerm = n.core->currentTerm();
  n.seenCommit = n.core->commitIndex();
  HashTrace(1, i, n.incarnation);
  Trace("n" + std::to_string(i) + " start term=" + std::to_string(n.core->currentTerm()) +
        " last=" + std::to_string(n.core->log().LastIndex()) +
        " snap=" + std::to_string(n.storage->Snapshot().lastIncludedIndex));
  auto* e = new Event;
  e->time = now_ + RandomIn(1, options_.tickUs);  // nodes do not tick in lockstep
  e->kind = Event::Kind::kTick;
  e->node = i;
  e->incarnation = n.incarnation;
  Push(e);
  Pump(i);
}

void Cluster::TickNode(int i, uint64_t incarnation) {
  Node& n = node(i);
  if (!n.up || n.incarnation != incarnation) return;
  n.core->Tick();
  auto* e = new Event;
  e->time = now_ + options_.tickUs;
  e->kind = Event::Kind::kTick;
  e->node = i;
  e->incarnation = incarnation;
  Push(e);
  Pump(i);
  Observe(i);
}

void Cluster::Pump(int i) {
  Node& n = node(i);
  if (!n.up || n.inFlight || !n.core->HasReady()) return;
  n.inFlight = n.core->GetReady();
  Ready& rd = *n.inFlight;
  n.inFlightPrevTerm =
      rd.entries.empty() ? 0 : n.core->log().TermOrZero(rd.entries.front().index - 1);
  if (rd.softState) {
    HashTrace(2, i, static_cast<uint64_t>(rd.softState->role), rd.softState->leader);
    Trace("n" + std::to_string(i) + " is " + raft::RoleName(rd.softState->role) + " of term " +
          std::to_string(n.core->currentTerm()));
  }
  for (const Message& m : rd.eagerMessages) SendMessage(m);
  rd.eagerMessages.clear();
  const bool writes = rd.hardState || !rd.entries.empty() || !rd.snapshotChunks.empty() ||
                      rd.snapshot.has_value();
  if (!writes) {
    Persisted(i, n.incarnation);  // nothing to make durable: no disk wait
    return;
  }
  auto* e = new Event;
  e->time = now_ + RandomIn(options_.minDiskUs, options_.maxDiskUs);
  e->kind = Event::Kind::kPersisted;
  e->node = i;
  e->incarnation = n.incarnation;
  Push(e);
}

void Cluster::Persisted(int i, uint64_t incarnation) {
  Node& n = node(i);
  if (!n.up || n.incarnation != incarnation || !n.inFlight) return;
  Ready rd = std::move(*n.inFlight);
  n.inFlight.reset();
  ApplyReady(i, rd, n.inFlightPrevTerm);
  if (failed()) return;
  n.core->Advance(rd);
  TakeSnapshotIfDue(i);
  Observe(i);
  Pump(i);
}

void Cluster::ApplyReady(int i, Ready& rd, uint64_t prevTerm) {
  Node& n = node(i);
  // 1. Durable writes, in the order a real store makes them.
  std::optional<RestoredSnapshot> restored;
  const kvraft::Status installed = n.app->InstallFromReady(rd, &restored);
  if (!installed.ok()) {
    return Fail("node " + std::to_string(i) + " failed to install a snapshot: " + installed.ToString());
  }
  if (restored) {
    const std::string v = invariants_.OnRestore(i, restored->index, restored->term, restored->stateHash);
    if (!v.empty()) return Fail(v);
    HashTrace(3, i, restored->index);
    Trace("n" + std::to_string(i) + " installed snapshot at " + std::to_string(restored->index));
  }
  if (!rd.entries.empty()) {
    const std::string v = invariants_.OnEntriesWritten(i, rd.entries, prevTerm);
    if (!v.empty()) return Fail(v);
  }
  const kvraft::Status saved = n.storage->Save(rd.hardState ? &*rd.hardState : nullptr, rd.entries);
  CHECK(saved.ok()) << "node " << i << ": " << saved.ToString();
  // 2. Messages that promise durable state.
  for (const Message& m : rd.messages) SendMessage(m);
  if (failed()) return;
  // 3. Apply.
  std::vector<raft::Entry> toApply;
  uint64_t next = n.app->appliedIndex() + 1;
  for (const raft::Entry& e : rd.committedEntries) {
    if (e.index < next) continue;  // covered by a restored snapshot or the application's own state
    if (e.index != next) {
      return Fail("node " + std::to_string(i) + " skipped from applied " + std::to_string(next - 1) +
                  " to " + std::to_string(e.index));
    }
    toApply.push_back(e);  // a copy: the Ready goes back to the core whole
    ++next;
  }
  std::vector<AppliedEntry> results;
  const kvraft::Status applied = n.app->Apply(toApply, &results);
  if (!applied.ok()) return Fail("node " + std::to_string(i) + " cannot apply: " + applied.ToString());
  CHECK_EQ(results.size(), toApply.size());
  for (size_t k = 0; k < toApply.size(); ++k) {
    const raft::Entry& e = toApply[k];
    const std::string v = invariants_.OnApply(i, e, results[k].stateHash);
    if (!v.empty()) return Fail(v);
    HashTrace(4, i, e.index, e.term);
    if (applyHook_) applyHook_(i, e, results[k].reply);
    if (failed()) return;
    if (e.type == raft::EntryType::kNormal) {
      auto [it, inserted] = n.applied.emplace(e.index, e.data);
      if (!inserted && it->second != e.data) {
        return Fail("node " + std::to_string(i) + " applied two commands at " + std::to_string(e.index));
      }
    }
  }
  // 4. Reads.
  for (const raft::ReadState& r : rd.readStates) {
    auto it = n.reads.find(r.requestId);
    if (it == n.reads.end()) continue;
    it->second.index = r.index;
    it->second.confirmed = true;
  }
  for (uint64_t id : rd.droppedReads) {
    auto it = n.reads.find(id);
    if (it == n.reads.end()) continue;
    auto cb = std::move(it->second.onDropped);
    n.reads.erase(it);
    if (cb) cb();
  }
  for (auto it = n.reads.begin(); it != n.reads.end();) {
    if (it->second.confirmed && it->second.index <= n.app->appliedIndex()) {
      auto cb = std::move(it->second.onRead);
      const uint64_t index = it->second.index;
      it = n.reads.erase(it);
      if (cb) cb(index);
    } else {
      ++it;
    }
  }
}

void Cluster::TakeSnapshotIfDue(int i) {
  Node& n = node(i);
  uint64_t index = 0;
  const kvraft::Status s = n.app->MaybeSnapshot(n.core->voters(), &index);
  if (!s.ok()) return Fail("node " + std::to_string(i) + " cannot take a snapshot: " + s.ToString());
  if (index == 0) return;
  HashTrace(5, i, index);
  Trace("n" + std::to_string(i) + " snapshot at " + std::to_string(index));
}

void Cluster::Observe(int i) {
  Node& n = node(i);
  if (!n.up || failed()) return;
  const raft::Raft& c = *n.core;
  if (c.currentTerm() < n.seenTerm) {
    return Fail("node " + std::to_string(i) + ": term went back from " + std::to_string(n.seenTerm) +
                " to " + std::to_string(c.currentTerm()));
  }
  if (c.commitIndex() < n.seenCommit) {
    return Fail("node " + std::to_string(i) + ": commitIndex went back from " +
                std::to_string(n.seenCommit) + " to " + std::to_string(c.commitIndex()));
  }
  n.seenTerm = c.currentTerm();
  n.seenCommit = c.commitIndex();
  if (c.role() == raft::Role::kLeader) {
    const std::string v = invariants_.OnLeader(static_cast<NodeId>(i), c);
    if (!v.empty()) return Fail(v);
  }
}

// ---------------------------------------------------------------- network

bool Cluster::Linked(int from, int to) const {
  return connected_[from] && connected_[to] && group_[from] == group_[to];
}

void Cluster::SendMessage(const Message& m) {
  const int from = static_cast<int>(m.from);
  const int to = static_cast<int>(m.to);
  Node& n = node(from);
  // Persist before answering (Figure 2, "Rules for all servers" and the note
  // on persistent state): a vote or acknowledgement leaves only when what it
  // promises is on disk. A durable term above the message's means the
  // promise was overtaken by a newer term, which is allowed.
  const raft::HardState hs = n.storage->InitialHardState();
  auto broken = [&](const std::string& what) {
    Fail("node " + std::to_string(from) + " sent " + Describe(m) + " before " + what + " was durable");
  };
  if (m.type == MessageType::kRequestVoteResponse && m.success) {
    if (hs.currentTerm < m.term || (hs.currentTerm == m.term && hs.votedFor != m.to)) {
      return broken("its vote");
    }
  } else if (m.type == MessageType::kRequestVote) {
    if (hs.currentTerm < m.term || (hs.currentTerm == m.term && hs.votedFor != m.from)) {
      return broken("its own vote");
    }
  } else if ((m.type == MessageType::kAppendEntriesResponse && m.success) ||
             (m.type == MessageType::kInstallSnapshotResponse && m.done)) {
    if (hs.currentTerm < m.term) return broken("its term");
    if (hs.currentTerm == m.term && n.storage->LastIndex() < m.matchIndex) {
      return broken("entry " + std::to_string(m.matchIndex));
    }
    if (hs.currentTerm == m.term && n.core->currentTerm() == m.term) {
      uint64_t durable = 0;
      const auto mem = n.core->log().Term(m.matchIndex);
      if (mem && n.storage->Term(m.matchIndex, &durable).ok() && durable != *mem) {
        return broken("entry " + std::to_string(m.matchIndex) + " of term " + std::to_string(*mem));
      }
    }
  }

  ++messagesSent_;
  bytesSent_ += m.ByteSize();
  if (!Linked(from, to)) {
    HashTrace(6, from, to, 0);
    return;
  }
  if (Chance(options_.dropRate)) {
    HashTrace(6, from, to, 1);
    if (options_.trace) Trace("drop " + Describe(m));
    return;
  }
  const int copies = Chance(options_.dupRate) ? 2 : 1;
  for (int k = 0; k < copies; ++k) {
    auto* e = new Event;
    e->time = now_ + RandomIn(options_.minDelayUs, options_.maxDelayUs);
    if (!options_.reorder) {
      uint64_t& last = lastDelivery_[{from, to}];
      e->time = std::max(e->time, last);  // same time: the event sequence keeps order
      last = e->time;
    }
    e->kind = Event::Kind::kDeliver;
    e->node = to;
    e->msg = m;
    Push(e);
  }
}

void Cluster::Deliver(Message m) {
  const int to = static_cast<int>(m.to);
  Node& n = node(to);
  if (!n.up || !Linked(static_cast<int>(m.from), to)) return;
  HashTrace(7, static_cast<uint64_t>(m.type), m.from * 64 + m.to, m.term);
  if (options_.trace) Trace("recv " + Describe(m));
  n.core->Step(m);
  Pump(to);
  Observe(to);
}

// ---------------------------------------------------------------- running

bool Cluster::Step() {
  if (queue_.empty() || failed()) return false;
  std::unique_ptr<Event> e(queue_.top());
  queue_.pop();
  now_ = std::max(now_, e->time);
  if (++events_ > options_.maxEvents) {
    Fail("event storm: more than " + std::to_string(options_.maxEvents) +
         " events (a livelock of elections or retransmits)");
    return false;
  }
  switch (e->kind) {
    case Event::Kind::kTick: TickNode(e->node, e->incarnation); break;
    case Event::Kind::kDeliver: Deliver(std::move(e->msg)); break;
    case Event::Kind::kPersisted: Persisted(e->node, e->incarnation); break;
    case Event::Kind::kCall: e->fn(); break;
  }
  return true;
}

void Cluster::RunFor(uint64_t us) {
  const uint64_t end = now_ + us;
  while (!failed() && !queue_.empty() && queue_.top()->time <= end) Step();
  if (!failed()) now_ = std::max(now_, end);
}

bool Cluster::RunUntil(const std::function<bool()>& pred, uint64_t maxUs) {
  const uint64_t end = now_ + maxUs;
  if (pred()) return true;
  while (!failed() && !queue_.empty() && queue_.top()->time <= end) {
    Step();
    if (pred()) return true;
  }
  if (!failed()) now_ = std::max(now_, end);
  return false;
}

void Cluster::Fail(const std::string& why) {
  if (!failure_.empty()) return;
  failure_ = why;
  Trace("INVARIANT VIOLATED: " + why);
}

// ---------------------------------------------------------------- faults

void Cluster::Disconnect(int i) {
  connected_[i] = false;
  HashTrace(8, i);
  Trace("disconnect n" + std::to_string(i));
}

void Cluster::Connect(int i) {
  connected_[i] = true;
  HashTrace(9, i);
  Trace("connect n" + std::to_string(i));
}

bool Cluster::connected(int i) const { return connected_[i]; }

void Cluster::Partition(const std::vector<std::vector<int>>& groups) {
  std::fill(group_.begin(), group_.end(), static_cast<int>(groups.size()));  // the unnamed rest
  std::string desc = "partition";
  for (size_t g = 0; g < groups.size(); ++g) {
    desc += " {";
    for (int i : groups[g]) {
      group_[i] = static_cast<int>(g);
      desc += " " + std::to_string(i);
      HashTrace(10, i, g);
    }
    desc += " }";
  }
  Trace(desc);
}

void Cluster::HealPartitions() {
  std::fill(group_.begin(), group_.end(), 0);
  std::fill(connected_.begin(), connected_.end(), true);
  HashTrace(11);
  Trace("heal");
}

void Cluster::SetUnreliable(bool on, Unreliable u) {
  static const SimOptions defaults;
  options_.dropRate = on ? u.dropRate : 0;
  options_.dupRate = on ? u.dupRate : 0;
  options_.maxDelayUs = on ? u.maxDelayUs : defaults.maxDelayUs;
  options_.reorder = on ? u.reorder : defaults.reorder;
  HashTrace(12, on);
  Trace(on ? "network unreliable" : "network reliable");
}

void Cluster::Crash(int i) {
  Node& n = node(i);
  if (!n.up) return;
  n.up = false;
  n.core.reset();
  n.inFlight.reset();  // the write in progress is lost
  n.app->Crash();
  if (options_.store == SimOptions::Store::kRocksDb) OpenStorage(i);  // close and reopen from disk
  ++n.incarnation;
  std::map<uint64_t, Node::Read> reads;
  reads.swap(n.reads);
  HashTrace(13, i);
  Trace("crash n" + std::to_string(i));
  for (auto& [id, r] : reads) {
    if (r.onDropped) r.onDropped();
  }
}

void Cluster::Restart(int i) {
  Crash(i);
  StartNode(i);
}

bool Cluster::up(int i) const { return node(i).up; }

// ---------------------------------------------------------------- clients

StartResult Cluster::Start(int i, const std::string& command) {
  Node& n = node(i);
  StartResult r;
  if (!n.up) return r;
  kvraft::Status s = n.core->Propose(command, &r.index, &r.term);
  if (!s.ok()) return StartResult{};
  r.isLeader = true;
  HashTrace(14, i, r.index, r.term);
  Pump(i);
  return r;
}

bool Cluster::ReadIndex(int i, std::function<void(uint64_t)> onRead, std::function<void()> onDropped) {
  Node& n = node(i);
  if (!n.up) return false;
  const uint64_t id = nextReadId_++;
  if (!n.core->ReadIndex(id).ok()) return false;
  n.reads[id] = Node::Read{std::move(onRead), std::move(onDropped), 0, false};
  HashTrace(15, i, id);
  Pump(i);
  return true;
}

// ---------------------------------------------------------------- observation

raft::Role Cluster::role(int i) const {
  const Node& n = node(i);
  return n.up ? n.core->role() : raft::Role::kFollower;
}
uint64_t Cluster::term(int i) const {
  const Node& n = node(i);
  return n.up ? n.core->currentTerm() : n.storage->InitialHardState().currentTerm;
}
uint64_t Cluster::commitIndex(int i) const {
  const Node& n = node(i);
  return n.up ? n.core->commitIndex() : 0;
}
uint64_t Cluster::appliedIndex(int i) const { return node(i).app->appliedIndex(); }
uint64_t Cluster::lastLogIndex(int i) const {
  const Node& n = node(i);
  return n.up ? n.core->log().LastIndex() : n.storage->LastIndex();
}
uint64_t Cluster::stateHash(int i) const { return node(i).app->stateHash(); }
SimApp& Cluster::app(int i) { return *node(i).app; }
const SimApp& Cluster::app(int i) const { return *node(i).app; }
uint64_t Cluster::snapshotIndex(int i) const { return node(i).storage->Snapshot().lastIncludedIndex; }
const raft::Raft* Cluster::core(int i) const { return node(i).core.get(); }
const raft::Storage& Cluster::storage(int i) const { return *node(i).storage; }

std::optional<std::string> Cluster::Applied(int i, uint64_t index) const {
  const auto& a = node(i).applied;
  auto it = a.find(index);
  if (it == a.end()) return std::nullopt;
  return it->second;
}

int Cluster::NCommitted(uint64_t index, std::string* command) {
  int count = 0;
  std::optional<std::string> seen;
  for (int i = 1; i <= size(); ++i) {
    auto cmd = Applied(i, index);
    if (!cmd) continue;
    if (seen && *seen != *cmd) {
      Fail("committed values do not match at index " + std::to_string(index));
      return 0;
    }
    seen = cmd;
    ++count;
  }
  if (command != nullptr) *command = seen.value_or("");
  return count;
}

// ---------------------------------------------------------------- 6.824 helpers

int Cluster::CheckOneLeader() {
  for (int iter = 0; iter < 10 && !failed(); ++iter) {
    RunFor(RandomIn(450'000, 550'000));
    std::map<uint64_t, std::vector<int>> leaders;
    for (int i = 1; i <= size(); ++i) {
      if (up(i) && connected(i) && isLeader(i)) leaders[term(i)].push_back(i);
    }
    if (leaders.empty()) continue;
    for (const auto& [t, ids] : leaders) {
      if (ids.size() > 1) {
        Fail("term " + std::to_string(t) + " has " + std::to_string(ids.size()) + " leaders");
        return 0;
      }
    }
    return leaders.rbegin()->second.front();
  }
  Fail("expected one leader, got none");
  return 0;
}

bool Cluster::CheckNoLeader() {
  for (int i = 1; i <= size(); ++i) {
    if (up(i) && connected(i) && isLeader(i)) {
      Fail("expected no leader among connected servers, but " + std::to_string(i) + " claims to be");
      return false;
    }
  }
  return true;
}

uint64_t Cluster::CheckTerms() {
  uint64_t t = 0;
  for (int i = 1; i <= size(); ++i) {
    if (!up(i) || !connected(i)) continue;
    if (t == 0) {
      t = term(i);
    } else if (term(i) != t) {
      Fail("servers disagree on term");
      return 0;
    }
  }
  return t;
}

uint64_t Cluster::One(const std::string& command, int expectedServers, bool retry) {
  const uint64_t t0 = now_;
  int starts = 0;
  while (now_ - t0 < 10'000'000 && !failed()) {
    uint64_t index = 0;
    for (int k = 0; k < size(); ++k) {
      starts = starts % size() + 1;
      if (!up(starts) || !connected(starts)) continue;
      StartResult r = Start(starts, command);
      if (r.isLeader) {
        index = r.index;
        break;
      }
    }
    if (index != 0) {
      const uint64_t t1 = now_;
      while (now_ - t1 < 2'000'000 && !failed()) {
        std::string cmd;
        const int nd = NCommitted(index, &cmd);
        if (nd > 0 && nd >= expectedServers && cmd == command) return index;
        RunFor(20'000);
      }
      if (!retry) {
        Fail("one(" + command + ") failed to reach agreement");
        return 0;
      }
    } else {
      RunFor(50'000);
    }
  }
  Fail("one(" + command + ") failed to reach agreement");
  return 0;
}

std::optional<std::string> Cluster::Wait(uint64_t index, int n, uint64_t startTerm) {
  uint64_t to = 10'000;
  for (int iters = 0; iters < 30 && !failed(); ++iters) {
    if (NCommitted(index, nullptr) >= n) break;
    RunFor(to);
    if (to < 1'000'000) to *= 2;
    if (startTerm > 0) {
      for (int i = 1; i <= size(); ++i) {
        if (up(i) && term(i) > startTerm) return std::nullopt;  // someone moved on
      }
    }
  }
  std::string cmd;
  const int nd = NCommitted(index, &cmd);
  if (nd < n) {
    Fail("only " + std::to_string(nd) + " decided for index " + std::to_string(index) + "; wanted " +
         std::to_string(n));
    return std::nullopt;
  }
  return cmd;
}

}  // namespace kvraft::sim
