// kvadmin's online commands against real kvd processes: status (with the
// leader's view of its followers), snapshot-now and compact on one node,
// and the exit codes when nodes do not answer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/kv_client.h"
#include "tests/integration/child_process.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/test_util.h"

#ifndef KVADMIN_PATH
#error "KVADMIN_PATH must name where the kvadmin binary is built (a compile definition)"
#endif

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

ProgramResult Kvadmin(const std::string& command, const std::vector<std::string>& endpoints, bool asJson) {
  std::string joined;
  for (const std::string& e : endpoints) joined += (joined.empty() ? "" : ",") + e;
  std::vector<std::string> argv = {KVADMIN_PATH, command, "--endpoints=" + joined, "--timeout_ms=2000"};
  if (asJson) argv.push_back("--json");
  return RunProgram(argv, {}, 60s);
}

json ParseOrFail(const ProgramResult& r) {
  json j = json::parse(r.output, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << r.output;
  return j;
}

class KvadminOnline : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartAll();
    leader_ = cluster_.WaitForLeader(kLeaderLimit);
    ASSERT_NE(leader_, 0) << "no leader";
    // Some tests ask one follower by its own address.
    ASSERT_TRUE(cluster_.WaitAllServing(kLeaderLimit));
    client::KvClient::Options o;
    o.endpoints = cluster_.ClientEndpoints();
    client::KvClient kv(o);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(kv.Put("k" + std::to_string(i), "v").ok());
  }

  KvdCluster cluster_{{}};
  int leader_ = 0;
};

TEST_F(KvadminOnline, StatusShowsEveryNodeAndTheLeadersViewOfItsFollowers) {
  const ProgramResult plain = Kvadmin("status", cluster_.ClientEndpoints(), false);
  EXPECT_EQ(plain.exitCode, 0) << plain.output;
  EXPECT_NE(plain.output.find("leader"), std::string::npos) << plain.output;
  EXPECT_NE(plain.output.find("view of its followers"), std::string::npos) << plain.output;

  // The followers catch up with the leader's log; poll until its view says so.
  json leader;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    const ProgramResult r = Kvadmin("status", cluster_.ClientEndpoints(), true);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    const json j = ParseOrFail(r);
    ASSERT_EQ(j["nodes"].size(), 3u) << r.output;
    int leaders = 0;
    for (const json& n : j["nodes"]) {
      ASSERT_TRUE(n["reachable"].get<bool>()) << n.dump();
      if (n["role"] == "leader") {
        ++leaders;
        leader = n;
      }
    }
    ASSERT_EQ(leaders, 1) << r.output;
    bool caughtUp = leader["peers"].size() == 2;
    for (const json& p : leader["peers"]) caughtUp &= p["match_index"] == leader["last_log_index"];
    if (caughtUp) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(leader["peers"].size(), 2u) << leader.dump();
  for (const json& p : leader["peers"]) {
    EXPECT_EQ(p["match_index"], leader["last_log_index"]) << leader.dump();
    EXPECT_EQ(p["state"], "replicate") << leader.dump();
    EXPECT_NE(p["node_id"], leader["node_id"]);
  }
  EXPECT_GE(leader["commit_index"].get<int64_t>(), 30);
}

TEST_F(KvadminOnline, StatusNamesTheNodeThatDoesNotAnswer) {
  const int down = leader_ % 3 + 1;
  cluster_.Kill(down);
  const ProgramResult plain = Kvadmin("status", cluster_.ClientEndpoints(), false);
  EXPECT_EQ(plain.exitCode, 0) << plain.output;
  const size_t row = plain.output.find(cluster_.ClientEndpoint(down));
  ASSERT_NE(row, std::string::npos) << plain.output;
  const std::string line = plain.output.substr(row, plain.output.find('\n', row) - row);
  EXPECT_NE(line.find("does not answer"), std::string::npos) << plain.output;
  const ProgramResult r = Kvadmin("status", cluster_.ClientEndpoints(), true);
  const json j = ParseOrFail(r);
  for (const json& n : j["nodes"]) {
    EXPECT_EQ(n["reachable"].get<bool>(), n["endpoint"] != cluster_.ClientEndpoint(down)) << n.dump();
  }
  cluster_.KillAll();
  EXPECT_EQ(Kvadmin("status", cluster_.ClientEndpoints(), false).exitCode, 3) << "no node answers";
}

TEST_F(KvadminOnline, SnapshotNowCompactsOneNodesLog) {
  const int follower = leader_ % 3 + 1;
  // The follower learns of the last commits a heartbeat after the leader:
  // wait until it has applied all 30 writes.
  kvraft::thrift::NodeStatus before;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s;;) {
    ASSERT_TRUE(cluster_.Status(follower, &before));
    if (before.appliedIndex >= 30) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "node " << follower << " applied " << before.appliedIndex;
    std::this_thread::sleep_for(10ms);
  }
  const ProgramResult r = Kvadmin("snapshot-now", {cluster_.ClientEndpoint(follower)}, true);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const json j = ParseOrFail(r);
  const int64_t index = j["snapshot_index"].get<int64_t>();
  EXPECT_GE(index, 30) << r.output;

  kvraft::thrift::NodeStatus status;
  ASSERT_TRUE(cluster_.Status(follower, &status));
  EXPECT_EQ(status.snapshotIndex, index) << "the node's log is compacted through the new snapshot";

  // The node keeps working from its snapshot, and the data is intact.
  ASSERT_EQ(cluster_.Stop(follower), 0);
  cluster_.Start(follower);
  client::KvClient::Options o;
  o.endpoints = {cluster_.ClientEndpoint(follower)};
  client::KvClient kv(o);
  for (const auto deadline = std::chrono::steady_clock::now() + 10s;;) {
    client::Result got = kv.Get("k29", /*stale=*/true);
    if (got.ok()) {
      EXPECT_EQ(got.value, "v");
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << got.ToString();
    std::this_thread::sleep_for(20ms);
  }
}

TEST_F(KvadminOnline, CompactLeavesTheDataAsItWas) {
  const ProgramResult r = Kvadmin("compact", {cluster_.ClientEndpoint(leader_)}, false);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("compacted"), std::string::npos) << r.output;
  client::KvClient::Options o;
  o.endpoints = cluster_.ClientEndpoints();
  client::KvClient kv(o);
  for (int i = 0; i < 30; ++i) {
    client::Result got = kv.Get("k" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << got.ToString();
    EXPECT_EQ(got.value, "v");
  }
}

TEST_F(KvadminOnline, OneNodeCommandsNeedExactlyOneEndpoint) {
  EXPECT_EQ(Kvadmin("snapshot-now", cluster_.ClientEndpoints(), false).exitCode, 64);
  EXPECT_EQ(Kvadmin("compact", cluster_.ClientEndpoints(), false).exitCode, 64);
  cluster_.Kill(leader_);
  EXPECT_EQ(Kvadmin("compact", {cluster_.ClientEndpoint(leader_)}, false).exitCode, 3)
      << "the node named does not answer";
}

}  // namespace
}  // namespace kvraft::integration
