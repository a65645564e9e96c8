// Real kvd processes under a seeded schedule of faults: SIGKILL and
// restart, SIGSTOP and SIGCONT, and partitions (every peer link runs
// through a LinkProxy that the schedule cuts and heals). Concurrent
// clients record what they saw; the history must be linearizable and every
// acknowledged write must be there at the end.
//
// A failure prints its seed; KVRAFT_FAULT_SEED=<seed> runs that schedule
// again (the processes' timing still varies, so a replay reproduces the
// faults, not every interleaving).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/kv_client.h"
#include "tests/faults/link_proxy.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/linearizability/checker.h"

namespace kvraft::faults {
namespace {

using namespace std::chrono_literals;
using client::Code;
using client::KvClient;
using linearizability::History;
using linearizability::Operation;
using Steady = std::chrono::steady_clock;

linearizability::Time Now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Steady::now().time_since_epoch()).count();
}

// The cluster with a proxy on every directed peer link.
class ProxiedCluster {
 public:
  ProxiedCluster(int nodes, std::vector<std::string> extraFlags) : n_(nodes) {
    integration::KvdCluster::Options o;
    o.nodes = nodes;
    o.extraFlags = std::move(extraFlags);
    cluster_ = std::make_unique<integration::KvdCluster>(o);
    for (int from = 1; from <= n_; ++from) {
      for (int to = 1; to <= n_; ++to) {
        if (from != to) proxies_[{from, to}] = std::make_unique<LinkProxy>(PortOf(cluster_->PeerEndpoint(to)));
      }
    }
    for (int i = 1; i <= n_; ++i) {
      // Node i reaches node j through proxy (i, j) and listens where the
      // others' proxies forward to.
      std::string peers;
      for (int j = 1; j <= n_; ++j) {
        const std::string address =
            i == j ? cluster_->PeerEndpoint(j) : "127.0.0.1:" + std::to_string(proxies_[{i, j}]->port());
        peers += (peers.empty() ? "" : ",") + std::to_string(j) + "=" + address;
      }
      cluster_->SetNodeFlags(i, {"--peers=" + peers, "--peer_listen=" + cluster_->PeerEndpoint(i)});
    }
  }

  integration::KvdCluster& cluster() { return *cluster_; }
  int nodes() const { return n_; }

  // Cuts every link between `side` and the rest, both ways.
  void Partition(const std::set<int>& side) {
    for (auto& [link, proxy] : proxies_) proxy->SetCut(side.count(link.first) != side.count(link.second));
  }
  void Heal() {
    for (auto& [link, proxy] : proxies_) proxy->SetCut(false);
  }

 private:
  static int PortOf(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

  const int n_;
  std::unique_ptr<integration::KvdCluster> cluster_;
  std::map<std::pair<int, int>, std::unique_ptr<LinkProxy>> proxies_;
};

// What the clients saw, from every thread.
class Recorder {
 public:
  void Add(Operation op) {
    std::lock_guard<std::mutex> lock(mu_);
    history_.push_back(std::move(op));
  }
  void Acknowledged(const std::string& key, const std::string& suffix) {
    std::lock_guard<std::mutex> lock(mu_);
    appended_[key].push_back(suffix);
  }
  History history() const {
    std::lock_guard<std::mutex> lock(mu_);
    return history_;
  }
  std::map<std::string, std::vector<std::string>> appended() const {
    std::lock_guard<std::mutex> lock(mu_);
    return appended_;
  }

 private:
  mutable std::mutex mu_;
  History history_;
  std::map<std::string, std::vector<std::string>> appended_;
};

// One client: its own session, one operation at a time, on a few keys so
// that operations conflict.
void ClientLoop(int id, uint64_t seed, const std::vector<std::string>& endpoints, Steady::time_point until,
                Recorder* recorder, std::atomic<int>* answered) {
  KvClient::Options o;
  o.endpoints = endpoints;
  o.timeout = 3000ms;
  o.attemptTimeout = 1500ms;
  KvClient kv(o);
  std::mt19937_64 rng(seed);
  // Writes this client gave up on. Its next write carries a higher first
  // outstanding sequence number, after which the state machine refuses the
  // abandoned ones (kStaleSequence): each took effect before that write
  // returned, or never. That bound keeps the check cheap.
  std::vector<Operation> abandoned;
  auto settle = [&](linearizability::Time bound) {
    for (Operation& op : abandoned) recorder->Add(op.Unanswered(bound));
    abandoned.clear();
  };
  // Paced so that each key sees a few hundred operations: enough to
  // conflict under every fault, few enough for the checker (Appends make
  // ever longer values, each order of concurrent ones a new state).
  constexpr int kOpsPerClient = 250;
  const auto pace = std::chrono::duration_cast<std::chrono::microseconds>(until - Steady::now()) / kOpsPerClient;
  for (int n = 0; Steady::now() < until && n < kOpsPerClient; ++n) {
    std::this_thread::sleep_for(pace * static_cast<int64_t>(rng() % 200) / 100);
    // Appends go to keys of their own, so that every acknowledged suffix
    // must still be there at the end; Put and CompareAndSwap share others.
    const int what = static_cast<int>(rng() % 10);
    const bool appendKey = (what >= 6 && what < 9) || (what < 4 && rng() % 2 == 0);  // Gets read both
    const std::string key = (appendKey ? "a" : "k") + std::to_string(rng() % 2);
    const std::string unique = "c" + std::to_string(id) + "-" + std::to_string(n);
    const linearizability::Time call = Now();
    if (what < 4) {
      client::Result r = kv.Get(key);
      if (r.code == Code::kOk || r.code == Code::kNotFound) {
        recorder->Add(Operation::Get(id, call, Now(), key, r.code == Code::kOk ? r.value : std::nullopt));
        ++*answered;
      }
      continue;  // a failed read had no effect: it constrains nothing
    }
    Operation op;
    client::Result r;
    if (what < 6) {
      r = kv.Put(key, unique);
      op = Operation::Put(id, call, 0, key, unique);
    } else if (what < 9) {
      r = kv.Append(key, "[" + unique + "]");
      op = Operation::Append(id, call, 0, key, "[" + unique + "]");
    } else {
      // Swap in a new value only over the value this client last read.
      client::Result seen = kv.Get(key);
      if (seen.code != Code::kOk && seen.code != Code::kNotFound) continue;
      recorder->Add(Operation::Get(id, call, Now(), key, seen.code == Code::kOk ? seen.value : std::nullopt));
      const linearizability::Time casCall = Now();
      std::optional<std::string_view> expected;
      if (seen.value) expected = *seen.value;
      r = kv.CompareAndSwap(key, expected, unique);
      op = Operation::CompareAndSwap(id, casCall, 0, key, seen.value, unique, r.code == Code::kOk);
    }
    if (r.code == Code::kOk || r.code == Code::kCasFailed) {
      op.ret = Now();
      recorder->Add(op);
      settle(op.ret);
      ++*answered;
      if (op.kind == linearizability::OpKind::kAppend) recorder->Acknowledged(key, op.argument);
    } else {
      abandoned.push_back(op);  // timed out or unreachable: it may still take effect
    }
  }
  settle(linearizability::kNeverReturned);
}

struct ScheduleOptions {
  int nodes = 3;
  int clients = 4;
  std::chrono::seconds duration{12};
};

void RunSchedule(const ScheduleOptions& so) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("KVRAFT_FAULT_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE("fault schedule seed " + std::to_string(seed) + " (replay: KVRAFT_FAULT_SEED=" +
               std::to_string(seed) + ")");
  std::printf("fault schedule seed %llu, %d nodes\n", static_cast<unsigned long long>(seed), so.nodes);

  // Small snapshots, so restarted nodes catch up by snapshot as well as by log.
  ProxiedCluster pc(so.nodes, {"--snapshot_log_entries=200"});
  integration::KvdCluster& cluster = pc.cluster();
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(20s), 0) << "no leader at the start";

  Recorder recorder;
  std::atomic<int> answered{0};
  const Steady::time_point until = Steady::now() + so.duration;
  std::vector<std::thread> clients;
  for (int c = 0; c < so.clients; ++c) {
    clients.emplace_back(ClientLoop, c + 1, seed * 31 + c, cluster.ClientEndpoints(), until, &recorder, &answered);
  }

  // The nemesis: one fault at a time, each undone before the next.
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1)); };
  std::vector<std::string> log;
  while (Steady::now() + 2500ms < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(300, 800)));
    const int node = pick(1, so.nodes);
    const auto hold = std::chrono::milliseconds(pick(300, 1500));
    // A frozen leader is the fault that stale reads show under, so it
    // comes up twice as often as the others.
    switch (std::min(pick(0, 5), 4)) {
      case 0:
        log.push_back("kill -9 node " + std::to_string(node));
        cluster.Kill(node);
        std::this_thread::sleep_for(hold);
        cluster.Start(node);
        break;
      case 1:
        log.push_back("SIGSTOP node " + std::to_string(node));
        cluster.Pause(node);
        std::this_thread::sleep_for(hold);
        cluster.Resume(node);
        break;
      case 2:
        log.push_back("isolate node " + std::to_string(node));
        pc.Partition({node});
        std::this_thread::sleep_for(hold);
        pc.Heal();
        break;
      case 4: {
        // Freeze whoever leads now: the others elect a new leader while the
        // old one still believes it leads, until it wakes up.
        int leader = 0;
        for (int i = 1; i <= so.nodes && leader == 0; ++i) {
          kvraft::thrift::NodeStatus status;
          if (cluster.Running(i) && cluster.Status(i, &status, 500ms) && status.role == "leader") leader = i;
        }
        if (leader == 0) break;
        log.push_back("SIGSTOP leader " + std::to_string(leader));
        cluster.Pause(leader);
        std::this_thread::sleep_for(hold);
        cluster.Resume(leader);
        break;
      }
      case 3: {
        // A minority and a majority that both hold nodes, if there are more than 3.
        std::set<int> side = {node};
        if (so.nodes >= 5) side.insert(node % so.nodes + 1);
        log.push_back("partition {" + std::to_string(node) + (side.size() > 1 ? ",+1" : "") + "} from the rest");
        pc.Partition(side);
        std::this_thread::sleep_for(hold);
        pc.Heal();
        break;
      }
    }
  }
  for (std::thread& t : clients) t.join();
  std::string schedule;
  for (const std::string& l : log) schedule += "  " + l + "\n";
  SCOPED_TRACE("schedule:\n" + schedule);
  EXPECT_GT(answered.load(), 20) << "the clients got almost no answers under this schedule";

  // Every acknowledged append must be in the final value, read through the
  // log's order after all faults are healed.
  ASSERT_NE(cluster.WaitForLeader(20s), 0) << "no leader after the faults were healed";
  KvClient::Options o;
  o.endpoints = cluster.ClientEndpoints();
  o.timeout = 20000ms;
  KvClient kv(o);
  // Every key is read once more after the faults, and the reads join the
  // history: the last acknowledged Put or CompareAndSwap of a key must be
  // what it holds unless a later write explains otherwise.
  const auto appended = recorder.appended();
  for (const std::string key : {"k0", "k1", "a0", "a1"}) {
    const linearizability::Time call = Now();
    client::Result r = kv.Get(key);
    ASSERT_TRUE(r.code == Code::kOk || r.code == Code::kNotFound) << r.ToString();
    recorder.Add(Operation::Get(0, call, Now(), key, r.value));
    auto it = appended.find(key);
    if (it == appended.end()) continue;
    for (const std::string& s : it->second) {
      EXPECT_NE(r.value.value_or("").find(s), std::string::npos)
          << "acknowledged append " << s << " to " << key << " is lost; final value: " << r.value.value_or("(absent)");
    }
  }
  const linearizability::CheckResult check = linearizability::CheckLinearizability(recorder.history());
  EXPECT_EQ(check.verdict, linearizability::Verdict::kOk) << check.Describe();
  std::printf("%zu operations, %d answered; checker: %s\n", recorder.history().size(), answered.load(),
              linearizability::VerdictName(check.verdict));
}

TEST(FaultSchedule, ThreeNodes) { RunSchedule({3, 4, std::chrono::seconds(15)}); }
TEST(FaultSchedule, FiveNodes) { RunSchedule({5, 4, std::chrono::seconds(15)}); }

}  // namespace
}  // namespace kvraft::faults
