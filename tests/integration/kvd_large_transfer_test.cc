// More than 200 MB through one client connection and through each of the
// leader's peer links, none of which may be dropped and reopened.
//
// Thrift 0.17's threaded servers drop a connection after ~100 MB received
// (THRIFT-5492); kvd serves with TNonblockingServer so that the limit
// applies per message. This test is what keeps it that way.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/integration/kvd_cluster.h"
#include "tests/integration/test_util.h"
#include "tests/integration/thrift_link.h"

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;
namespace wire = kvraft::thrift;
using Steady = std::chrono::steady_clock;

constexpr int kPuts = 220;
constexpr size_t kValueBytes = 1000000;  // below kvd's default --max_value_bytes (1 MiB)
constexpr int kKeys = 8;                 // values overwrite each other: the state stays small

std::string KeyOf(int sequence) { return "big-" + std::to_string(sequence % kKeys); }

// A value that differs with each sequence number, so that reading back the
// last one proves it is that one.
std::string ValueOf(int sequence) {
  std::string v(kValueBytes, static_cast<char>('a' + sequence % 26));
  const std::string tag = "put #" + std::to_string(sequence) + ";";
  v.replace(0, tag.size(), tag);
  return v;
}

TEST(Kvd, LargeTransferOverOneConnection) {
  // Snapshots every 64 MiB of commands keep the logs compacted. A long
  // election timeout (4 to 8 s) keeps a leader in place while two cores
  // are busy moving the bytes: this test is about the transport, not
  // elections. Sanitized nodes beside other tests move about 3 MB/s here,
  // and a follower's answers then come 250 ms apart at the median and up
  // to 2 s apart; a leader that hears from neither within an election
  // timeout steps down (check-quorum), which at 0.5 s it did.
  KvdCluster cluster({.extraFlags = {"--snapshot_log_bytes=67108864", "--election_ticks=400"}});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(kLeaderLimit);
  ASSERT_NE(leader, 0) << "no leader";

  const Steady::time_point start = Steady::now();
  KvLink link(cluster.ClientEndpoint(leader), 30s);  // the one connection
  wire::RegisterClientResponse registered;
  link->RegisterClient(registered);
  ASSERT_EQ(registered.result.code, wire::Code::OK) << registered.result.message;

  for (int sequence = 1; sequence <= kPuts; ++sequence) {
    wire::PutRequest request;
    request.session.clientId = registered.clientId;
    request.session.sequence = sequence;
    request.session.firstOutstanding = sequence;
    request.key = KeyOf(sequence);
    request.value = ValueOf(sequence);
    wire::WriteResponse response;
    link->Put(response, request);
    ASSERT_EQ(response.result.code, wire::Code::OK)
        << "Put #" << sequence << " (" << sequence - 1 << " MB sent on this connection): "
        << response.result.message;
  }
  wire::GetRequest get;
  get.key = KeyOf(kPuts);
  wire::GetResponse got;
  link->Get(got, get);
  ASSERT_EQ(got.result.code, wire::Code::OK) << got.result.message;
  EXPECT_TRUE(got.__isset.value);
  EXPECT_EQ(got.value.size(), kValueBytes);
  EXPECT_EQ(got.value == ValueOf(kPuts), true) << "the last value read back is not the last one written";
  const double seconds = std::chrono::duration<double>(Steady::now() - start).count();
  std::printf("%d puts of %zu bytes over one connection in %.1f s (%.0f MB/s)\n", kPuts, kValueBytes, seconds,
              kPuts * kValueBytes / 1e6 / seconds);

  // Every entry reached every follower over the leader's one link to it.
  const int64_t commit = StatusOf(cluster, leader).commitIndex;
  for (int i = 1; i <= cluster.size(); ++i) {
    if (i == leader) continue;
    EXPECT_TRUE(WaitApplied(cluster, i, commit, kCatchUpLimit)) << "node " << i << " did not catch up";
  }
  const kvraft::thrift::NodeStatus status = StatusOf(cluster, leader);
  EXPECT_GT(status.snapshotIndex, 0) << "the leader never compacted its log";
  const std::string leaderLog = cluster.LogText(leader);
  for (int i = 1; i <= cluster.size(); ++i) {
    if (i == leader) continue;
    EXPECT_EQ(CountLines(leaderLog, "connected to peer " + std::to_string(i) + " at "), 1)
        << "the leader's link to node " << i << " was not one connection throughout";
    EXPECT_EQ(CountLines(leaderLog, "lost connection to peer " + std::to_string(i) + " "), 0);
  }
}

}  // namespace
}  // namespace kvraft::integration
