// kvd across restarts: clean stops, power cuts, and a follower that was
// down catching up by log and by snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/kv_client.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/test_util.h"

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;
using client::Code;
using client::KvClient;
using client::Result;
using Steady = std::chrono::steady_clock;

// Writes key<i> = value<i> for i in [first, first + count) and returns what
// it wrote; fails the test on the first write that is not OK.
std::map<std::string, std::string> WriteKeys(KvClient& kv, const std::string& prefix, int first, int count) {
  std::map<std::string, std::string> written;
  for (int i = first; i < first + count; ++i) {
    const std::string key = prefix + std::to_string(i);
    const std::string value = "value-of-" + key;
    Result r = kv.Put(key, value);
    if (!r.ok()) {
      ADD_FAILURE() << "Put " << key << ": " << r.ToString();
      break;
    }
    written[key] = value;
  }
  return written;
}

std::map<std::string, std::string> ReadAllOrFail(KvClient& kv, bool stale) {
  std::map<std::string, std::string> all;
  std::string error;
  EXPECT_TRUE(ReadAll(kv, stale, &all, &error)) << error;
  return all;
}

TEST(Kvd, GracefulShutdownKeepsData) {
  KvdCluster cluster({});
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader";
  std::map<std::string, std::string> written;
  {
    KvClient kv(ClientOptions(cluster.ClientEndpoints()));
    written = WriteKeys(kv, "g", 0, 100);
  }
  ASSERT_EQ(written.size(), 100u);

  for (int i = 1; i <= cluster.size(); ++i) EXPECT_EQ(cluster.Stop(i), 0) << "node " << i << " after SIGTERM";
  for (int i = 1; i <= cluster.size(); ++i) {
    EXPECT_EQ(CountLines(cluster.LogText(i), "stopped cleanly"), 1) << "node " << i;
  }

  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader after the restart";
  KvClient kv(ClientOptions(cluster.ClientEndpoints()));
  const std::map<std::string, std::string> all = ReadAllOrFail(kv, /*stale=*/false);
  EXPECT_EQ(DescribeDifferences(all, written), "");
}

TEST(Kvd, KillNineLosesNoAcknowledgedWrite) {
  KvdCluster cluster({});
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader";

  // One writer, writing until the power cut and a little after; only what
  // it saw acknowledged must survive.
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    // Short deadline: after the cut, the last write gives up quickly.
    KvClient kv(ClientOptions(cluster.ClientEndpoints(), 2s));
    for (int i = 0; !stop && i < 1000000; ++i) {
      const std::string key = "w" + std::to_string(i);
      const std::string value = "value-of-" + key;
      if (kv.Put(key, value).ok()) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged[key] = value;
      }
    }
  });
  const auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acknowledged.size();
  };
  const bool enough = Eventually([&] { return count() >= 200; }, 60s);
  cluster.KillAll();  // with writes in flight
  stop = true;
  writer.join();
  ASSERT_TRUE(enough) << "only " << count() << " writes acknowledged before the cut";

  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader after the restart";
  KvClient kv(ClientOptions(cluster.ClientEndpoints()));
  const std::map<std::string, std::string> all = ReadAllOrFail(kv, /*stale=*/false);
  ExpectContains(all, acknowledged, "after kill -9 of every node");
  // Writes whose answer was lost may or may not be there, but nothing else.
  for (const auto& [key, value] : all) EXPECT_EQ(value, "value-of-" + key);
  std::printf("acknowledged %zu writes before the cut; %zu keys after the restart\n", acknowledged.size(),
              all.size());
}

TEST(Kvd, RestartedNodeCatchesUpByLog) {
  KvdCluster cluster({});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(kLeaderLimit);
  ASSERT_NE(leader, 0) << "no leader";
  const int follower = AFollower(cluster, leader);
  KvClient kv(ClientOptions(cluster.ClientEndpoints()));
  std::map<std::string, std::string> written = WriteKeys(kv, "before", 0, 10);

  ASSERT_EQ(cluster.Stop(follower), 0);
  const std::map<std::string, std::string> whileDown = WriteKeys(kv, "down", 0, 50);
  written.insert(whileDown.begin(), whileDown.end());
  ASSERT_EQ(written.size(), 60u);
  const int64_t commit = StatusOf(cluster, leader).commitIndex;

  cluster.Start(follower);
  ASSERT_TRUE(WaitApplied(cluster, follower, commit, kCatchUpLimit))
      << "node " << follower << " did not apply up to the leader's commit index " << commit;
  const kvraft::thrift::NodeStatus caughtUp = StatusOf(cluster, follower);
  EXPECT_EQ(caughtUp.snapshotIndex, 0) << "no snapshot was due, so the log alone must have done it";
  KvClient onFollower(ClientOptions({cluster.ClientEndpoint(follower)}));
  ExpectContains(ReadAllOrFail(onFollower, /*stale=*/true), written, "stale reads on the restarted node");
}

TEST(Kvd, RestartedNodeCatchesUpBySnapshot) {
  KvdCluster cluster({.extraFlags = {"--snapshot_log_entries=20"}});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(kLeaderLimit);
  ASSERT_NE(leader, 0) << "no leader";
  const int follower = AFollower(cluster, leader);
  KvClient kv(ClientOptions(cluster.ClientEndpoints()));
  std::map<std::string, std::string> written = WriteKeys(kv, "before", 0, 5);
  ASSERT_TRUE(WaitApplied(cluster, follower, StatusOf(cluster, leader).commitIndex, kCatchUpLimit));

  // Nothing is written between this status and the stop, so this is the
  // follower's last log index while it is down.
  const int64_t followerLast = StatusOf(cluster, follower).lastLogIndex;
  ASSERT_EQ(cluster.Stop(follower), 0);
  const std::map<std::string, std::string> whileDown = WriteKeys(kv, "down", 0, 200);
  written.insert(whileDown.begin(), whileDown.end());
  ASSERT_EQ(written.size(), 205u);

  kvraft::thrift::NodeStatus leaderStatus;
  EXPECT_TRUE(Eventually([&] { return cluster.Status(leader, &leaderStatus) &&
                                      leaderStatus.snapshotIndex > followerLast; },
                         10s))
      << "the leader's log was not compacted past the follower's last index " << followerLast
      << ": snapshotIndex " << leaderStatus.snapshotIndex;
  const int64_t leaderSnapshot = leaderStatus.snapshotIndex;
  const int64_t commit = leaderStatus.commitIndex;

  cluster.Start(follower);
  ASSERT_TRUE(WaitApplied(cluster, follower, commit, kCatchUpLimit))
      << "node " << follower << " did not apply up to the leader's commit index " << commit;
  const kvraft::thrift::NodeStatus caughtUp = StatusOf(cluster, follower);
  EXPECT_GT(caughtUp.snapshotIndex, 0);
  // The log it missed was gone: it must hold a snapshot at least as new as
  // the leader's when it came back.
  EXPECT_GE(caughtUp.snapshotIndex, leaderSnapshot);
  KvClient onFollower(ClientOptions({cluster.ClientEndpoint(follower)}));
  ExpectContains(ReadAllOrFail(onFollower, /*stale=*/true), written, "stale reads on the restarted node");
}

}  // namespace
}  // namespace kvraft::integration
