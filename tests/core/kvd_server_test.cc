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
#include "core/kv_connection.h"
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

thrift::BatchOp PutOp(int64_t clientId, int64_t sequence, const std::string& key,
                      const std::string& value) {
  thrift::BatchOp op;
  op.__set_put(thrift::PutRequest());
  op.put.session.clientId = clientId;
  op.put.session.sequence = sequence;
  op.put.session.firstOutstanding = 1;
  op.put.key = key;
  op.put.value = value;
  return op;
}

thrift::BatchOp GetOp(const std::string& key, bool stale) {
  thrift::BatchOp op;
  op.__set_get(thrift::GetRequest());
  op.get.key = key;
  op.get.stale = stale;
  return op;
}

// The Batch RPC as kvd serves it, sent by hand: every op gets the answer it
// would get alone, refusals included, and a follower refuses what it would
// refuse alone.
TEST(KvdServer, BatchAnswersEachOpOnItsOwn) {
  InProcessCluster cluster(3);
  cluster.StartAll();
  int leader = 0;
  for (int i = 0; i < 1000 && (leader = cluster.Leader()) == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_NE(leader, 0);
  const std::vector<std::string> endpoints = cluster.endpoints();
  std::string host;
  int port = 0;
  ASSERT_TRUE(client::SplitEndpoint(endpoints[leader - 1], &host, &port));
  client::KvConnection connection(host, port, 10s);
  thrift::RegisterClientResponse registered;
  connection.rpc().RegisterClient(registered);
  ASSERT_EQ(registered.result.code, thrift::Code::OK) << registered.result.message;
  const int64_t id = registered.clientId;

  thrift::BatchRequest first;
  first.ops.push_back(PutOp(id, 1, "a", "1"));
  thrift::BatchOp cas;
  cas.__set_cas(thrift::CompareAndSwapRequest());
  cas.cas.session = first.ops[0].put.session;
  cas.cas.session.sequence = 2;
  cas.cas.key = "b";
  cas.cas.value = "2";  // expected unset: b must be absent
  first.ops.push_back(cas);
  first.ops.push_back(PutOp(id, 3, "", "empty key"));
  first.ops.push_back(thrift::BatchOp());  // no op at all
  first.ops.push_back(GetOp("never written", /*stale=*/true));
  thrift::BatchResponse answer;
  connection.rpc().Batch(answer, first);
  ASSERT_EQ(answer.result.code, thrift::Code::OK) << answer.result.message;
  ASSERT_EQ(answer.results.size(), 5u);
  EXPECT_EQ(answer.results[0].writeResponse.result.code, thrift::Code::OK);
  EXPECT_EQ(answer.results[1].writeResponse.result.code, thrift::Code::OK);
  EXPECT_EQ(answer.results[2].writeResponse.result.code, thrift::Code::INVALID_ARGUMENT);
  EXPECT_EQ(answer.results[3].writeResponse.result.code, thrift::Code::INVALID_ARGUMENT);
  ASSERT_TRUE(answer.results[4].__isset.getResponse);
  EXPECT_EQ(answer.results[4].getResponse.result.code, thrift::Code::NOT_FOUND);

  // No op of a batch reads a key another op of it writes: their order is
  // not promised.
  thrift::BatchRequest second;
  second.ops.push_back(GetOp("a", /*stale=*/false));
  second.ops.push_back(GetOp("b", /*stale=*/true));  // the leader applied it before answering
  thrift::BatchOp failingCas = cas;
  failingCas.cas.session.sequence = 4;
  failingCas.cas.__set_expected("x");
  failingCas.cas.value = "3";
  second.ops.push_back(failingCas);
  thrift::BatchOp del;
  del.__set_remove(thrift::DeleteRequest());
  del.remove.session = failingCas.cas.session;
  del.remove.session.sequence = 5;
  del.remove.key = "never written";
  second.ops.push_back(del);
  connection.rpc().Batch(answer, second);
  ASSERT_EQ(answer.results.size(), 4u);
  EXPECT_EQ(answer.results[0].getResponse.result.code, thrift::Code::OK);
  EXPECT_EQ(answer.results[0].getResponse.value, "1");
  EXPECT_EQ(answer.results[1].getResponse.value, "2");
  EXPECT_EQ(answer.results[2].writeResponse.result.code, thrift::Code::CAS_FAILED);
  EXPECT_EQ(answer.results[2].writeResponse.current, "2");
  EXPECT_EQ(answer.results[3].writeResponse.result.code, thrift::Code::NOT_FOUND);

  // Too many ops: refused whole, nothing carried out.
  thrift::BatchRequest huge;
  for (int i = 0; i < 1025; ++i) huge.ops.push_back(PutOp(id, 6 + i, "h", "x"));
  connection.rpc().Batch(answer, huge);
  EXPECT_EQ(answer.result.code, thrift::Code::TOO_LARGE) << answer.result.message;
  EXPECT_TRUE(answer.results.empty());

  // A follower refuses writes and linearizable reads as it would alone, and
  // serves stale reads.
  const int follower = leader == 1 ? 2 : 1;
  ASSERT_TRUE(client::SplitEndpoint(endpoints[follower - 1], &host, &port));
  client::KvConnection toFollower(host, port, 10s);
  thrift::BatchRequest third;
  third.ops.push_back(PutOp(id, 6, "c", "3"));
  third.ops.push_back(GetOp("b", /*stale=*/false));
  third.ops.push_back(GetOp("h", /*stale=*/true));
  toFollower.rpc().Batch(answer, third);
  ASSERT_EQ(answer.results.size(), 3u);
  EXPECT_EQ(answer.results[0].writeResponse.result.code, thrift::Code::NOT_LEADER);
  EXPECT_TRUE(answer.results[0].writeResponse.result.notInLog);
  EXPECT_EQ(answer.results[0].writeResponse.result.leaderAddress, endpoints[leader - 1]);
  EXPECT_EQ(answer.results[1].getResponse.result.code, thrift::Code::NOT_LEADER);
  EXPECT_EQ(answer.results[2].getResponse.result.code, thrift::Code::NOT_FOUND);

  client::KvClient kv(ClientOptions(endpoints));
  EXPECT_EQ(kv.Get("a").value, "1");
  EXPECT_EQ(kv.Get("b").value, "2");
  EXPECT_EQ(kv.Get("h").code, client::Code::kNotFound);
}

}  // namespace
}  // namespace kvraft::core
