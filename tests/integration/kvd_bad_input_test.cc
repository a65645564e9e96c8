// Bad input on kvd's two ports: bytes that are not Thrift, frames cut short
// or over the limit, methods that do not exist, keys and values over the
// limits, and peers that do not introduce themselves properly. After each,
// every node still serves and the data is what it was.
#include <gtest/gtest.h>
#include <thrift/TApplicationException.h>
#include <thrift/transport/TTransportException.h>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "core/kv_client.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/raw_socket.h"
#include "tests/integration/test_util.h"
#include "tests/integration/thrift_link.h"

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;
namespace wire = kvraft::thrift;
using client::Code;
using client::KvClient;
using client::Result;

constexpr uint32_t kMaxRequestBytes = 2 << 20;    // kvd's default --max_request_bytes
constexpr uint32_t kMaxPeerFrameBytes = 64 << 20;  // kvd's default --max_peer_frame_bytes
constexpr size_t kMaxKeyBytes = 4 << 10;           // kvd's default --max_key_bytes
constexpr size_t kMaxValueBytes = 1000;            // set below: over it is cheap to send
// How long a server gets to close a connection it must refuse.
constexpr auto kCloseLimit = 5s;
// A term no real election reaches in a test: if a node ever shows it, a
// message that should have been dropped was stepped.
constexpr int64_t kForgedTerm = 1000000;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

// An AppendEntries that would move the receiver to kForgedTerm if stepped.
wire::RaftMessage ForgedAppend(int from, int to) {
  wire::RaftMessage m;
  m.type = wire::MessageType::APPEND_ENTRIES;
  m.fromNode = from;
  m.toNode = to;
  m.term = kForgedTerm;
  return m;
}

class KvdBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<KvdCluster>(
        KvdCluster::Options{.extraFlags = {"--max_value_bytes=" + std::to_string(kMaxValueBytes)}});
    cluster_->StartAll();
    leader_ = cluster_->WaitForLeader(kLeaderLimit);
    ASSERT_NE(leader_, 0) << "no leader";
    // The tests talk to every node's ports directly.
    ASSERT_TRUE(cluster_->WaitAllServing(kLeaderLimit));
    follower_ = AFollower(*cluster_, leader_);
    kv_ = std::make_unique<KvClient>(ClientOptions(cluster_->ClientEndpoints()));
    Put("canary", "chirp");
  }

  void Put(const std::string& key, const std::string& value) {
    Result r = kv_->Put(key, value);
    ASSERT_TRUE(r.ok()) << "Put " << key << ": " << r.ToString();
    expected_[key] = value;
  }

  // Every node runs and answers; the store holds exactly what was written
  // through Put(); a new write still goes through.
  void ExpectHealthy(const std::string& after) {
    SCOPED_TRACE("after " + after);
    for (int i = 1; i <= cluster_->size(); ++i) {
      EXPECT_TRUE(cluster_->Running(i)) << "node " << i << " died";
      wire::NodeStatus s;
      EXPECT_TRUE(cluster_->Status(i, &s)) << "node " << i << " does not answer Status";
      EXPECT_LT(s.term, kForgedTerm) << "node " << i << " stepped a forged message";
    }
    std::map<std::string, std::string> all;
    std::string error;
    EXPECT_TRUE(ReadAll(*kv_, /*stale=*/false, &all, &error)) << error;
    EXPECT_EQ(DescribeDifferences(all, expected_), "");
    Put("alive-" + std::to_string(++checks_), "yes");
  }

  // Both ports of every node, named for messages.
  std::vector<std::pair<std::string, std::string>> AllPorts() const {
    std::vector<std::pair<std::string, std::string>> ports;
    for (int i = 1; i <= cluster_->size(); ++i) {
      ports.emplace_back("node " + std::to_string(i) + " client port", cluster_->ClientEndpoint(i));
      ports.emplace_back("node " + std::to_string(i) + " peer port", cluster_->PeerEndpoint(i));
    }
    return ports;
  }

  // Waits until node i's log has a line with `needle`.
  bool Logged(int i, const std::string& needle) {
    return Eventually([&] { return CountLines(cluster_->LogText(i), needle) > 0; }, 10s);
  }

  std::unique_ptr<KvdCluster> cluster_;
  int leader_ = 0;
  int follower_ = 0;
  std::unique_ptr<KvClient> kv_;
  std::map<std::string, std::string> expected_;
  int checks_ = 0;
};

// Sends a frame of noise on a new connection, then a real call on the same
// connection: the call must fail with a closed connection or be answered
// right (`answeredRight`).
template <class Link, class Call>
void NoiseFrameThenCall(const std::string& endpoint, const std::string& port, Call answeredRight) {
  Link link(endpoint, 5s);
  const std::string noise = RandomBytes(64, 2);
  link.transport().write(reinterpret_cast<const uint8_t*>(noise.data()), static_cast<uint32_t>(noise.size()));
  link.transport().flush();
  try {
    EXPECT_TRUE(answeredRight(link)) << port << ": a wrong answer after a frame of noise";
    std::printf("%s: skipped a frame of noise and kept serving the connection\n", port.c_str());
  } catch (const apache::thrift::transport::TTransportException& e) {
    std::printf("%s: closed the connection after a frame of noise (%s)\n", port.c_str(), e.what());
  }
}

TEST_F(KvdBadInput, GarbageBytes) {
  for (const auto& [name, endpoint] : AllPorts()) {
    SCOPED_TRACE(name);
    // Read as a frame length, "GET " is 1.2 GB: over every limit.
    {
      RawSocket s(endpoint);
      s.Send("GET / HTTP/1.1\r\nHost: kvd\r\n\r\n");
      EXPECT_TRUE(s.WaitClosedByPeer(kCloseLimit)) << "an HTTP request was not refused";
    }
    // Noise: whatever the server makes of it, it must survive it.
    {
      RawSocket s(endpoint);
      s.Send(RandomBytes(4096, 1));
    }
  }
  // A frame of the right size holding noise, not a Thrift message. Framing
  // stays intact, so the server may close the connection (the peer port
  // does) or skip the frame and answer the next call on it (the client
  // port's worker threads do); it must not answer nonsense.
  for (int i = 1; i <= cluster_->size(); ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    NoiseFrameThenCall<KvLink>(cluster_->ClientEndpoint(i), "client port",
                               [](KvLink& link) { wire::NodeStatus s; link->Status(s); return s.nodeId > 0; });
    NoiseFrameThenCall<RaftLink>(cluster_->PeerEndpoint(i), "peer port", [&](RaftLink& link) {
      wire::HelloResponse hello;
      link->Hello(hello, "another-cluster", 1, i);
      return hello.code == wire::HelloCode::WRONG_CLUSTER;
    });
  }
  ExpectHealthy("garbage bytes");
}

TEST_F(KvdBadInput, TruncatedFrame) {
  for (const auto& [name, endpoint] : AllPorts()) {
    SCOPED_TRACE(name);
    RawSocket s(endpoint);
    EXPECT_TRUE(s.Send(FrameHeader(100) + std::string(10, 'x')));
    // While the frame hangs half-sent, the node serves everyone else: its
    // clients, and its peers (a write needs them).
    wire::NodeStatus status;
    std::string error;
    for (int i = 1; i <= cluster_->size(); ++i) {
      EXPECT_TRUE(QueryStatus(cluster_->ClientEndpoint(i), 2s, &status, &error)) << error;
    }
    Put("while " + name + " waits for a frame", "x");
    s.Close();
  }
  ExpectHealthy("truncated frames");
}

TEST_F(KvdBadInput, FrameOverTheLimit) {
  for (int i = 1; i <= cluster_->size(); ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    {
      RawSocket s(cluster_->ClientEndpoint(i));
      s.Send(FrameHeader(kMaxRequestBytes + 1));
      EXPECT_TRUE(s.WaitClosedByPeer(kCloseLimit)) << "the client port kept a connection announcing "
                                                   << kMaxRequestBytes + 1 << " bytes";
    }
    {
      RawSocket s(cluster_->PeerEndpoint(i));
      s.Send(FrameHeader(kMaxPeerFrameBytes + 1));
      EXPECT_TRUE(s.WaitClosedByPeer(kCloseLimit)) << "the peer port kept a connection announcing "
                                                   << kMaxPeerFrameBytes + 1 << " bytes";
    }
    EXPECT_TRUE(Logged(i, "frame size too large")) << "the refusal was not logged";
  }
  ExpectHealthy("frames over the limit");
}

// A well-formed call of a method the service does not have: the answer is
// a TApplicationException UNKNOWN_METHOD, or the connection is closed.
template <class Link>
void CallUnknownMethod(Link& link, const std::string& where) {
  using apache::thrift::TApplicationException;
  namespace protocol = apache::thrift::protocol;
  link.protocol().writeMessageBegin("NoSuchMethod", protocol::T_CALL, 7);
  link.protocol().writeStructBegin("NoSuchMethod_args");
  link.protocol().writeFieldStop();
  link.protocol().writeStructEnd();
  link.protocol().writeMessageEnd();
  link.transport().writeEnd();
  link.transport().flush();
  try {
    std::string name;
    protocol::TMessageType type;
    int32_t sequence = 0;
    link.protocol().readMessageBegin(name, type, sequence);
    EXPECT_EQ(type, protocol::T_EXCEPTION) << where;
    TApplicationException answer;
    answer.read(&link.protocol());
    link.protocol().readMessageEnd();
    link.transport().readEnd();
    EXPECT_EQ(answer.getType(), TApplicationException::UNKNOWN_METHOD) << where << ": " << answer.what();
    EXPECT_EQ(sequence, 7) << where;
    std::printf("%s: UNKNOWN_METHOD (%s)\n", where.c_str(), answer.what());
  } catch (const apache::thrift::transport::TTransportException& e) {
    std::printf("%s: connection closed (%s)\n", where.c_str(), e.what());
  }
}

TEST_F(KvdBadInput, UnknownMethod) {
  for (int i = 1; i <= cluster_->size(); ++i) {
    KvLink client(cluster_->ClientEndpoint(i), 5s);
    CallUnknownMethod(client, "node " + std::to_string(i) + " client port");
    RaftLink peer(cluster_->PeerEndpoint(i), 5s);
    CallUnknownMethod(peer, "node " + std::to_string(i) + " peer port");
  }
  ExpectHealthy("unknown methods");
}

TEST_F(KvdBadInput, KeysAndValuesOverTheLimitsAndEmptyKeys) {
  KvLink link(cluster_->ClientEndpoint(leader_), 10s);
  wire::RegisterClientResponse registered;
  link->RegisterClient(registered);
  ASSERT_EQ(registered.result.code, wire::Code::OK) << registered.result.message;
  int64_t sequence = 1;
  // Refused requests never reach the log, so they reuse the next number.
  auto session = [&] {
    wire::Session s;
    s.clientId = registered.clientId;
    s.sequence = sequence;
    s.firstOutstanding = sequence;
    return s;
  };
  auto put = [&](const std::string& key, const std::string& value) {
    wire::PutRequest request;
    request.session = session();
    request.key = key;
    request.value = value;
    wire::WriteResponse response;
    link->Put(response, request);
    return response.result;
  };
  const std::string longKey(kMaxKeyBytes + 1, 'k');
  const std::string longValue(kMaxValueBytes + 1, 'v');

  wire::Result r = put(longKey, "v");
  EXPECT_EQ(r.code, wire::Code::TOO_LARGE) << r.message;
  r = put("k", longValue);
  EXPECT_EQ(r.code, wire::Code::TOO_LARGE) << r.message;
  r = put("", "v");
  EXPECT_EQ(r.code, wire::Code::INVALID_ARGUMENT) << r.message;
  {
    wire::AppendRequest request;
    request.session = session();
    request.key = "canary";
    request.value = longValue;
    wire::WriteResponse response;
    link->Append(response, request);
    EXPECT_EQ(response.result.code, wire::Code::TOO_LARGE) << response.result.message;
  }
  {
    wire::CompareAndSwapRequest request;
    request.session = session();
    request.key = "canary";
    request.__set_expected(longValue);
    request.value = "v";
    wire::WriteResponse response;
    link->CompareAndSwap(response, request);
    EXPECT_EQ(response.result.code, wire::Code::TOO_LARGE) << response.result.message;
  }
  {
    wire::DeleteRequest request;
    request.session = session();
    request.key = "";
    wire::WriteResponse response;
    link->Delete(response, request);
    EXPECT_EQ(response.result.code, wire::Code::INVALID_ARGUMENT) << response.result.message;
  }
  for (const std::string& key : {std::string(), longKey}) {
    wire::GetRequest request;
    request.key = key;
    wire::GetResponse response;
    link->Get(response, request);
    EXPECT_EQ(response.result.code, key.empty() ? wire::Code::INVALID_ARGUMENT : wire::Code::TOO_LARGE)
        << "Get of a key of " << key.size() << " bytes: " << response.result.message;
  }
  // A session is needed for a write: no client id, a sequence number of 0.
  {
    wire::PutRequest request;
    request.key = "k";
    request.value = "v";
    wire::WriteResponse response;
    link->Put(response, request);
    EXPECT_EQ(response.result.code, wire::Code::INVALID_ARGUMENT) << response.result.message;
  }

  // Exactly at the limits is fine.
  r = put(std::string(kMaxKeyBytes, 'k'), std::string(kMaxValueBytes, 'v'));
  EXPECT_EQ(r.code, wire::Code::OK) << r.message;
  expected_[std::string(kMaxKeyBytes, 'k')] = std::string(kMaxValueBytes, 'v');
  ++sequence;

  // The client library reports the same.
  EXPECT_EQ(kv_->Put(longKey, "v").code, Code::kTooLarge);
  EXPECT_EQ(kv_->Put("k", longValue).code, Code::kTooLarge);
  EXPECT_EQ(kv_->Put("", "v").code, Code::kInvalidArgument);
  EXPECT_EQ(kv_->Get("").code, Code::kInvalidArgument);
  ExpectHealthy("keys and values over the limits");
}

TEST_F(KvdBadInput, HelloFromAnotherCluster) {
  const int target = follower_;
  RaftLink link(cluster_->PeerEndpoint(target), 5s);
  wire::HelloResponse hello;
  link->Hello(hello, "another-cluster", leader_, target);
  EXPECT_EQ(hello.code, wire::HelloCode::WRONG_CLUSTER) << hello.message;
  EXPECT_TRUE(Logged(target, "refused a peer connection"))
      << "node " << target << " did not log that it refused the peer";
  EXPECT_GT(CountLines(cluster_->LogText(target), "another-cluster"), 0);

  // Messages on the refused connection are dropped, even with the right
  // cluster id.
  link->Deliver("test", leader_, {ForgedAppend(leader_, target)});
  EXPECT_TRUE(Logged(target, "dropping raft messages from")) << "the Deliver was not dropped";

  // The other refusals: a node id not in the cluster, a call meant for
  // another node.
  {
    RaftLink other(cluster_->PeerEndpoint(target), 5s);
    other->Hello(hello, "test", 99, target);
    EXPECT_EQ(hello.code, wire::HelloCode::UNKNOWN_NODE) << hello.message;
  }
  {
    RaftLink other(cluster_->PeerEndpoint(target), 5s);
    other->Hello(hello, "test", leader_, leader_);
    EXPECT_EQ(hello.code, wire::HelloCode::WRONG_NODE) << hello.message;
  }
  ExpectHealthy("refused hellos");
}

TEST_F(KvdBadInput, DeliverWithoutHello) {
  const int target = follower_;
  RaftLink link(cluster_->PeerEndpoint(target), 5s);
  link->Deliver("test", leader_, {ForgedAppend(leader_, target)});
  EXPECT_TRUE(Logged(target, "dropping raft messages from")) << "the Deliver was not dropped";
  ExpectHealthy("a Deliver without Hello");
}

}  // namespace
}  // namespace kvraft::integration
