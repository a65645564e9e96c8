#include "tests/sim/scenario.h"

#include <map>
#include <random>
#include <sstream>
#include <vector>

#include "statemachine/command.h"
#include "tests/sim/cluster.h"
#include "tests/sim/kv_app.h"
#include "tests/sim/kv_workload.h"

namespace kvraft::sim {

namespace {

constexpr int kClients = 3;
constexpr uint64_t kLivenessUs = 10'000'000;  // after healing, progress must resume within this

template <typename T>
T Choose(std::mt19937_64& rng, std::initializer_list<T> options) {
  return *(options.begin() + rng() % options.size());
}

// Clients and faults for one run; everything is scheduled on the cluster's
// event queue so it interleaves deterministically with the nodes.
class Driver {
 public:
  Driver(Cluster& c, const ScenarioOptions& o, ScenarioResult& r) : c_(c), o_(o), r_(r) {
    c_.SetApplyHook([this](int node, const raft::Entry& e, const std::string&) { OnApply(node, e); });
  }

  // clients=false: faults only (a KvWorkload brings its own clients).
  void Start(bool clients) {
    for (int k = 0; clients && k < kClients; ++k) {
      c_.Schedule(Between(1'000, 20'000), [this, k] { ClientStep(k); });
    }
    if (o_.faults) c_.Schedule(Between(100'000, 1'500'000), [this] { FaultStep(); });
  }

  void Stop() { stopped_ = true; }
  uint64_t maxAcked() const { return maxAcked_; }

 private:
  struct Pending {
    std::string command;
    uint64_t term;
  };

  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + c_.rng()() % (hi - lo + 1); }
  int RandomNode() { return 1 + static_cast<int>(c_.rng()() % c_.size()); }

  int Leader() {
    int best = 0;
    for (int i = 1; i <= c_.size(); ++i) {
      if (c_.isLeader(i) && (best == 0 || c_.term(i) > c_.term(best))) best = i;
    }
    return best;
  }

  void ClientStep(int k) {
    if (stopped_ || c_.failed()) return;
    int& target = knownLeader_[k];
    if (target == 0) target = RandomNode();
    if (c_.rng()() % 4 == 0) {
      // A linearizable read must see every write acknowledged before it began.
      const uint64_t floor = maxAcked_;
      const int node = target;
      const bool asked = c_.ReadIndex(
          node,
          [this, floor, node](uint64_t index) {
            if (index < floor) {
              c_.Fail("stale read on node " + std::to_string(node) + ": read index " +
                      std::to_string(index) + " misses write " + std::to_string(floor) +
                      " acknowledged before the read began");
            }
            ++r_.reads;
          },
          [this] { ++r_.readsDropped; });
      if (!asked) target = 0;
    } else {
      const std::string cmd = "c" + std::to_string(k) + "-" + std::to_string(seq_[k]++);
      StartResult s = c_.Start(target, cmd);
      if (s.isLeader) {
        pending_[{target, s.index}] = Pending{cmd, s.term};
      } else {
        target = 0;  // try another node next time
      }
    }
    c_.Schedule(Between(1'000, 20'000), [this, k] { ClientStep(k); });
  }

  void OnApply(int node, const raft::Entry& e) {
    auto it = pending_.find({node, e.index});
    if (it == pending_.end()) return;
    // The proposer applied its own index: committed if the entry is ours
    // (a different entry there means the proposal was lost, which is allowed).
    if (e.term == it->second.term && e.data == it->second.command) {
      ++r_.acked;
      maxAcked_ = std::max(maxAcked_, e.index);
    }
    pending_.erase(it);
  }

  void CrashFor(int node) {
    if (!c_.up(node)) return;
    c_.Crash(node);
    ++r_.crashes;
    c_.Schedule(Between(10'000, 2'000'000), [this, node] {
      if (!c_.up(node)) c_.Restart(node);
    });
  }

  void FaultStep() {
    if (stopped_ || c_.failed()) return;
    const uint64_t kind = c_.rng()() % 11;
    if (kind < 3) {
      CrashFor(RandomNode());
    } else if (kind < 5) {
      const int l = Leader();
      CrashFor(l != 0 ? l : RandomNode());
    } else if (kind < 8) {
      std::vector<int> a, b;
      for (int i = 1; i <= c_.size(); ++i) (c_.rng()() % 2 ? a : b).push_back(i);
      c_.Partition({a, b});
      ++r_.partitions;
      c_.Schedule(Between(50'000, 3'000'000), [this] { c_.HealPartitions(); });
    } else if (kind < 10) {
      const int l = Leader();
      if (l != 0) {
        c_.Partition({{l}});  // the leader alone in a minority
        ++r_.partitions;
        c_.Schedule(Between(50'000, 3'000'000), [this] { c_.HealPartitions(); });
      }
    } else {
      for (int i = 1; i <= c_.size(); ++i) CrashFor(i);  // everyone at once
    }
    c_.Schedule(Between(100'000, 1'500'000), [this] { FaultStep(); });
  }

  Cluster& c_;
  const ScenarioOptions& o_;
  ScenarioResult& r_;
  bool stopped_ = false;
  int knownLeader_[kClients] = {};
  uint64_t seq_[kClients] = {};
  uint64_t maxAcked_ = 0;
  std::map<std::pair<int, uint64_t>, Pending> pending_;
};

// After healing: a leader must emerge and a new command must reach every
// node; then every node must hold the same state.
void CheckLiveness(Cluster& c, bool kv) {
  const uint64_t deadline = c.now() + kLivenessUs;
  int round = 0;
  while (!c.failed() && c.now() < deadline) {
    int leader = 0;
    c.RunUntil(
        [&] {
          for (int i = 1; i <= c.size(); ++i) {
            if (c.isLeader(i)) leader = i;
          }
          return leader != 0;
        },
        deadline - c.now());
    if (leader == 0) break;
    std::string probe = "liveness-" + std::to_string(round++);
    if (kv) {
      statemachine::Command noop;  // the kv state machine takes only commands
      noop.op = statemachine::Operation::kNoOp;
      noop.leaderTimeMs = static_cast<uint64_t>(round);
      probe = statemachine::EncodeCommand(noop);
    }
    StartResult s = c.Start(leader, probe);
    if (!s.isLeader) continue;
    const bool everywhere = c.RunUntil(
        [&] {
          for (int i = 1; i <= c.size(); ++i) {
            if (c.appliedIndex(i) < s.index) return false;
          }
          return true;
        },
        std::min<uint64_t>(2'000'000, deadline - c.now()));
    std::string cmd;
    if (everywhere && c.NCommitted(s.index, &cmd) > 0 && cmd == probe) {
      c.RunFor(200'000);  // let commit indexes settle, then compare states
      const uint64_t applied = c.appliedIndex(1);
      for (int i = 2; i <= c.size(); ++i) {
        if (c.appliedIndex(i) == applied && c.stateHash(i) != c.stateHash(1)) {
          c.Fail("nodes 1 and " + std::to_string(i) + " differ in state at applied index " +
                 std::to_string(applied));
        }
      }
      return;
    }
  }
  if (!c.failed()) {
    std::ostringstream os;
    os << "liveness: no command committed on all nodes within " << kLivenessUs / 1'000'000
       << " s after every fault healed (";
    for (int i = 1; i <= c.size(); ++i) {
      os << "n" << i << " " << raft::RoleName(c.role(i)) << " t" << c.term(i) << " applied "
         << c.appliedIndex(i) << (i < c.size() ? ", " : ")");
    }
    c.Fail(os.str());
  }
}

}  // namespace

ScenarioResult RunScenario(uint64_t seed, const ScenarioOptions& so) {
  ScenarioResult r;
  // Parameters come from their own stream so that adding a parameter does
  // not shift every later random decision of the run.
  std::mt19937_64 pick(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
  SimOptions o;
  o.nodes = so.nodes;
  o.seed = seed;
  o.trace = so.trace;
  if (so.rocksdb) o.store = SimOptions::Store::kRocksDb;
  o.tailCacheBytes = so.tailCacheBytes;
  if (so.faults) {
    o.dropRate = Choose(pick, {0.0, 0.01, 0.05, 0.1});
    o.dupRate = Choose(pick, {0.0, 0.01, 0.05});
    o.maxDelayUs = Choose<uint64_t>(pick, {2'000, 10'000, 30'000});
    o.maxDiskUs = Choose<uint64_t>(pick, {200, 2'000, 10'000});
    o.reorder = Choose(pick, {false, true});
  }
  o.maxSizePerMsg = Choose<uint64_t>(pick, {200, 4'096, 65'536});  // 200 B: two or three entries
  o.maxInflightMsgs = Choose<size_t>(pick, {1, 4, 16});
  o.snapshotEvery = Choose<uint64_t>(pick, {0, 25, 100});
  o.snapshotPadding = Choose<size_t>(pick, {0, 3'000});
  o.snapshotChunkBytes = Choose<uint64_t>(pick, {256, 4'096});
  KvApp::Options kvApp;
  kvApp.snapshotEntries = Choose<uint64_t>(pick, {0, 25, 100});
  kvApp.snapshotBytes = Choose<uint64_t>(pick, {0, 2'000});
  if (so.snapshotEntries) kvApp.snapshotEntries = *so.snapshotEntries;
  if (so.snapshotBytes) kvApp.snapshotBytes = *so.snapshotBytes;
  DigestBook book;
  if (so.kv) {
    o.app = [&kvApp, &book](int node, const std::string& dir) {
      return std::make_unique<KvApp>(node, dir, kvApp, &book);
    };
  }
  {
    std::ostringstream os;
    os << "nodes=" << o.nodes << (so.rocksdb ? " store=rocksdb" : "") << " drop=" << o.dropRate << " dup=" << o.dupRate
       << (o.reorder ? " reorder" : "") << " delay<=" << o.maxDelayUs << "us disk<=" << o.maxDiskUs << "us msg<=" << o.maxSizePerMsg
       << "B inflight=" << o.maxInflightMsgs << " snapshot_every=" << o.snapshotEvery
       << " chunk=" << o.snapshotChunkBytes << "B";
    if (so.kv) {
      os << " app=kv snapshot_entries=" << kvApp.snapshotEntries
         << " snapshot_bytes=" << kvApp.snapshotBytes;
    }
    r.params = os.str();
  }

  Cluster c(o);
  Driver d(c, so, r);
  std::unique_ptr<KvWorkload> clients;
  if (so.kv) {
    KvWorkloadOptions wo;
    wo.clients = kClients;
    wo.keys = 4;
    clients = std::make_unique<KvWorkload>(c, wo);
    clients->Start();
  }
  d.Start(/*clients=*/!so.kv);
  c.RunFor(so.simSeconds * 1'000'000);
  d.Stop();
  if (clients) clients->Stop();
  if (!c.failed()) {
    c.HealPartitions();
    c.SetUnreliable(false);
    for (int i = 1; i <= c.size(); ++i) {
      if (!c.up(i)) c.Restart(i);
    }
    CheckLiveness(c, so.kv);
  }
  if (clients && !c.failed()) {
    clients->WaitIdle(kLivenessUs);
    c.RunFor(500'000);  // every replica applies what is committed
    const std::string problem = c.failed() ? "" : clients->Check();
    if (!problem.empty()) c.Fail("kv: " + problem);
    r.acked = clients->answered();
  }
  r.ok = !c.failed();
  r.failure = c.failure();
  r.traceHash = c.traceHash();
  r.events = c.eventCount();
  r.messages = c.messageCount();
  r.committed = c.invariants().maxCommitted();
  r.leaders = c.invariants().leaderCount();
  return r;
}

}  // namespace kvraft::sim
