// Whole kvd nodes in one process: the node loop, the peer links, both
// Thrift services and the client library, all threads at once, so that the
// sanitizer build checks the concurrent code end to end. (The multi-process
// tests in tests/integration/ and tests/faults/ cover crashes.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "core/kv_client.h"
#include "core/kvd_server.h"
#include "tests/integration/loopback_port.h"

namespace kvraft::core {
namespace {

using namespace std::chrono_literals;

class InProcessCluster {
 public:
  explicit InProcessCluster(int n) : n_(n) {
    dir_ = std::filesystem::temp_directory_path() /
           ("kvd_server_test." + std::to_string(getpid()) + "." + std::to_string(counter_++));
    std::string peers, clients;
    for (int i = 1; i <= n; ++i) {
      peerPorts_[i] = integration::ReserveLoopbackPort();
      clientPorts_[i] = integration::ReserveLoopbackPort();
      peers += (i > 1 ? "," : "") + std::to_string(i) + "=127.0.0.1:" + std::to_string(peerPorts_[i]);
      clients += (i > 1 ? "," : "") + std::to_string(i) + "=127.0.0.1:" + std::to_string(clientPorts_[i]);
    }
    peers_ = peers;
    clients_ = clients;
  }
  ~InProcessCluster() {
    servers_.clear();
    std::filesystem::remove_all(dir_);
  }

  void Start(int i) {
    KvdServer::Options o;
    ASSERT_TRUE(ParseClusterConfig("inproc", i, peers_, clients_, &o.node.cluster).ok());
    o.node.dataDir = (dir_ / ("node" + std::to_string(i))).string();
    o.node.replica.snapshotEntries = 50;  // exercise compaction and installs
    o.peerListen = o.node.cluster.Self().raft;
    o.clientListen = o.node.cluster.Self().client;
    o.clientThreads = 8;
    std::unique_ptr<KvdServer> s;
    Status st = KvdServer::Start(std::move(o), &s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    servers_[i] = std::move(s);
  }
  void StartAll() {
    for (int i = 1; i <= n_; ++i) Start(i);
  }
  void Stop(int i) { servers_.erase(i); }

  std::vector<std::string> endpoints() const {
    std::vector<std::string> e;
    for (const auto& [i, port] : clientPorts_) e.push_back("127.0.0.1:" + std::to_string(port));
    return e;
  }
  int Leader() {
    for (auto& [i, s] : servers_) {
      if (s->node().status().role == raft::Role::kLeader) return i;
    }
    return 0;
  }
  Node& node(int i) { return servers_.at(i)->node(); }

 private:
  static inline int counter_ = 0;
  const int n_;
  std::filesystem::path dir_;
  std::map<int, int> peerPorts_, clientPorts_;
  std::string peers_, clients_;
  std::map<int, std::unique_ptr<KvdServer>> servers_;
};

client::KvClient::Options ClientOptions(const std::vector<std::string>& endpoints) {
  client::KvClient::Options o;
  o.endpoints = endpoints;
  o.timeout = 20s;
  return o;
}

TEST(KvdServer, ConcurrentClientsAcrossALeaderChange) {
  InProcessCluster cluster(3);
  cluster.StartAll();
  client::KvClient kv(ClientOptions(cluster.endpoints()));
  ASSERT_TRUE(kv.Put("k", "v").ok());

  // Four threads append to keys of their own through one client, while the
  // leader is stopped once midway.
  constexpr int kThreads = 4, kPerThread = 60;
  std::atomic<int> done{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        client::Result r = kv.Append("t" + std::to_string(t), "[" + std::to_string(i) + "]");
        EXPECT_TRUE(r.ok()) << r.ToString();
        ++done;
      }
    });
  }
  while (done.load() < kThreads * kPerThread / 2) std::this_thread::sleep_for(5ms);
  const int leader = cluster.Leader();
  if (leader != 0) cluster.Stop(leader);
  for (std::thread& w : writers) w.join();
  if (leader != 0) cluster.Start(leader);

  for (int t = 0; t < kThreads; ++t) {
    std::string want;
    for (int i = 0; i < kPerThread; ++i) want += "[" + std::to_string(i) + "]";
    client::Result r = kv.Get("t" + std::to_string(t));
    ASSERT_TRUE(r.ok()) << r.ToString();
    EXPECT_EQ(r.value, want) << "thread " << t << ": every append exactly once, in order";
  }
  client::Result r = kv.Get("k");
  ASSERT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(r.value, "v");
}

TEST(KvdServer, CleanStopAndRestartKeepData) {
  InProcessCluster cluster(3);
  cluster.StartAll();
  {
    client::KvClient kv(ClientOptions(cluster.endpoints()));
    for (int i = 0; i < 120; ++i) ASSERT_TRUE(kv.Put("key" + std::to_string(i), std::to_string(i)).ok());
  }
  for (int i = 1; i <= 3; ++i) cluster.Stop(i);
  cluster.StartAll();
  client::KvClient kv(ClientOptions(cluster.endpoints()));
  for (int i = 0; i < 120; ++i) {
    client::Result r = kv.Get("key" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.ToString();
    EXPECT_EQ(r.value, std::to_string(i));
  }
}

}  // namespace
}  // namespace kvraft::core
