// kvadmin's offline commands on data directories a real cluster wrote
// (kvadmin_fixture.h): each command's plain and JSON output checked against
// what the test wrote and what the nodes reported before they stopped.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/kv_client.h"
#include "tests/integration/test_util.h"
#include "tests/tools/kvadmin_fixture.h"
#include "tests/tools/kvadmin_runner.h"
#include "tools/kvadmin_print.h"

namespace kvraft::tools_test {
namespace {

using nlohmann::json;

class KvadminOffline : public WrittenClusterTest {
 protected:
  static bool Contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
  }
};

TEST_F(KvadminOffline, HardStateShowsIdentityTermCommitSnapshotAndVoters) {
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("node " + std::to_string(n));
    const auto r = RunKvadmin("hard-state", Dir(n));
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(Contains(r.output, "cluster_id: \"kvadmin-test\"")) << r.output;
    EXPECT_TRUE(Contains(r.output, "node_id: " + std::to_string(n) + "\n")) << r.output;
    EXPECT_TRUE(Contains(r.output, "voters: 1,2,3\n")) << r.output;
    EXPECT_TRUE(Contains(r.output, "snapshot_index: " + std::to_string(data_->snapshotIndex[n]) + "\n"))
        << r.output;

    int code = -1;
    const json j = RunKvadminJson("hard-state", Dir(n), {}, &code);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(j["command"], "hard-state");
    EXPECT_EQ(j["cluster_id"], "kvadmin-test");
    EXPECT_EQ(j["node_id"], n);
    EXPECT_EQ(j["format_version"], 1);
    EXPECT_EQ(j["term"], data_->term);
    EXPECT_EQ(j["voters"], json({1, 2, 3}));
    EXPECT_EQ(j["snapshot_index"], data_->snapshotIndex[n]);
    EXPECT_GE(j["snapshot_term"].get<int64_t>(), 1);
    EXPECT_EQ(j["last_index"], data_->lastLogIndex[n]);
    EXPECT_EQ(j["first_index"], data_->snapshotIndex[n] + 1);
    // The stored commit is written with the entries (or a tick later) and
    // only ever moves forward: it lies between the snapshot and the log's end.
    EXPECT_GE(j["commit"].get<int64_t>(), data_->snapshotIndex[n]);
    EXPECT_LE(j["commit"].get<int64_t>(), data_->lastLogIndex[n]);
    EXPECT_TRUE(j["voted_for"].is_number());
  }
}

TEST_F(KvadminOffline, LogShowsEveryEntryWithItsDecodedCommand) {
  const int n = 1;
  const int64_t first = data_->snapshotIndex[n] + 1;
  const int64_t last = data_->lastLogIndex[n];
  const auto r = RunKvadmin("log", Dir(n));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::vector<std::string> lines = Lines(r.output);
  ASSERT_EQ(static_cast<int64_t>(lines.size()), last - first + 1) << r.output;
  for (int64_t i = first; i <= last; ++i) {
    EXPECT_EQ(lines[i - first].rfind(std::to_string(i) + " term=", 0), 0u) << lines[i - first];
  }

  int code = -1;
  const json j = RunKvadminJson("log", Dir(n), {}, &code);
  ASSERT_EQ(code, 0);
  ASSERT_EQ(static_cast<int64_t>(j["entries"].size()), last - first + 1);
  int64_t prevTerm = 0;
  for (const json& e : j["entries"]) {
    EXPECT_GE(e["term"].get<int64_t>(), prevTerm);
    prevTerm = e["term"].get<int64_t>();
    EXPECT_TRUE(e["type"] == "normal" || e["type"] == "noop") << e.dump();
    EXPECT_TRUE(e["size"].is_number());
    if (e["type"] == "normal") {
      ASSERT_TRUE(e.contains("command")) << e.dump();
      EXPECT_TRUE(e["command"]["op"].is_string());
      EXPECT_TRUE(e["command"]["client_id"].is_number());
      EXPECT_TRUE(e["command"]["sequence"].is_number());
    }
  }
}

TEST_F(KvadminOffline, LogPutsAreTheWritesAndFromToSelectsARange) {
  // The log holds the fixture's last writes (earlier ones were compacted
  // into the snapshot): every Put in it is one of the keys written, from a
  // session.
  std::set<std::string> written;
  for (const auto& [k, v] : data_->expected) written.insert(tools::Escape(k));
  for (const std::string& k : data_->deleted) written.insert(tools::Escape(k));
  int puts = 0;
  for (int n = 1; n <= 3; ++n) {
    const json j = RunKvadminJson("log", Dir(n));
    for (const json& e : j["entries"]) {
      if (!e.contains("command") || e["command"]["op"] != "Put") continue;
      const json& c = e["command"];
      ++puts;
      EXPECT_TRUE(written.count(c["key"].get<std::string>())) << c.dump();
      EXPECT_GT(c["client_id"].get<int64_t>(), 0);
      EXPECT_GT(c["sequence"].get<int64_t>(), 0);
      EXPECT_TRUE(c["value_size"].is_number());
    }
  }
  EXPECT_GT(puts, 0);
  // --from/--to: exactly that range, in plain and JSON form.
  const int n = 2;
  const int64_t from = data_->snapshotIndex[n] + 2;
  const int64_t to = from + 2;
  const auto r = RunKvadmin("log", Dir(n), {"--from=" + std::to_string(from), "--to=" + std::to_string(to)});
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::vector<std::string> lines = Lines(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output;
  EXPECT_EQ(lines.front().rfind(std::to_string(from) + " ", 0), 0u) << r.output;
  EXPECT_EQ(lines.back().rfind(std::to_string(to) + " ", 0), 0u) << r.output;
  const json j = RunKvadminJson("log", Dir(n), {"--from=" + std::to_string(from), "--to=" + std::to_string(to)});
  ASSERT_EQ(j["entries"].size(), 3u);
  EXPECT_EQ(j["entries"][0]["index"], from);
  EXPECT_EQ(j["entries"][2]["index"], to);
}

TEST(KvadminLog, DecodesEachOperation) {
  // A cluster whose log was never compacted holds every command written:
  // Put, Append, Delete and the session registrations, in order.
  integration::KvdCluster cluster({.extraFlags = {}, .clusterId = "kvadmin-ops"});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(integration::kLeaderLimit);
  ASSERT_NE(leader, 0);
  {
    client::KvClient kv(integration::ClientOptions(cluster.ClientEndpoints()));
    ASSERT_TRUE(kv.Put("op/put", "p-value").ok());
    ASSERT_TRUE(kv.Append("op/put", "+a").ok());
    ASSERT_TRUE(kv.Delete("op/put").ok());
    ASSERT_TRUE(kv.Put("op/long", std::string(40, 'L')).ok());
  }
  const int64_t commit = integration::StatusOf(cluster, leader).commitIndex;
  ASSERT_TRUE(integration::WaitApplied(cluster, leader, commit, integration::kCatchUpLimit));
  for (int n = 1; n <= 3; ++n) {
    if (n != leader) {
      ASSERT_EQ(cluster.Stop(n), 0);
    }
  }
  ASSERT_EQ(cluster.Stop(leader), 0);
  // The node holds a commit index that changed alone back for its next log
  // write; by a clean stop it is written.
  int code = -1;
  const json hardState = RunKvadminJson("hard-state", cluster.DataDir(leader), {}, &code);
  ASSERT_EQ(code, 0);
  EXPECT_GE(hardState["commit"].get<int64_t>(), commit);
  const auto r = RunKvadmin("log", cluster.DataDir(leader));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  auto Contains = [](const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
  };
  EXPECT_TRUE(Contains(r.output, " RegisterClient client=0 seq=0")) << r.output;
  EXPECT_TRUE(Contains(r.output, " Put client=")) << r.output;
  EXPECT_TRUE(Contains(r.output, " seq=1 key=\"op/put\" value=\"p-value\" (7 bytes)")) << r.output;
  EXPECT_TRUE(Contains(r.output, " Append client=")) << r.output;
  EXPECT_TRUE(Contains(r.output, " seq=2 key=\"op/put\" value=\"+a\" (2 bytes)")) << r.output;
  EXPECT_TRUE(Contains(r.output, " Delete client=")) << r.output;
  EXPECT_TRUE(Contains(r.output, " seq=3 key=\"op/put\"")) << r.output;
  // A long value is previewed: its first 32 bytes and its size.
  EXPECT_TRUE(Contains(r.output, "value=\"" + std::string(32, 'L') + "\"... (40 bytes)")) << r.output;
  EXPECT_TRUE(Contains(r.output, " noop size=0")) << r.output;
}

TEST_F(KvadminOffline, KvShowsExactlyTheKeysWritten) {
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("node " + std::to_string(n));
    const auto r = RunKvadmin("kv", Dir(n));
    ASSERT_EQ(r.exitCode, 0) << r.output;
    std::vector<std::string> want;
    for (const auto& [k, v] : data_->expected) want.push_back(tools::Quoted(k) + " " + tools::Quoted(v));
    EXPECT_EQ(Lines(r.output), want);
    for (const std::string& gone : data_->deleted) EXPECT_FALSE(Contains(r.output, tools::Quoted(gone)));

    int code = -1;
    const json j = RunKvadminJson("kv", Dir(n), {}, &code);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(j["count"], data_->expected.size());
    auto it = data_->expected.begin();
    for (const json& item : j["items"]) {
      ASSERT_NE(it, data_->expected.end());
      EXPECT_EQ(item["key_hex"], tools::Hex(it->first));
      EXPECT_EQ(item["key"], tools::Escape(it->first));
      EXPECT_EQ(item["value_hex"], tools::Hex(it->second));
      EXPECT_EQ(item["value_size"], it->second.size());
      ++it;
    }
  }
  // Escaping of bytes that are not printable.
  const auto r = RunKvadmin("kv", Dir(1), {"--prefix=bin/"});
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "\"bin/\\x01\\xff\" \"\\x00\\x02zz\"\n");
}

TEST_F(KvadminOffline, KvPrefixAndLimit) {
  std::vector<std::string> users;
  for (const auto& [k, v] : data_->expected) {
    if (k.rfind("user/", 0) == 0) users.push_back(k);
  }
  const auto all = RunKvadmin("kv", Dir(3), {"--prefix=user/"});
  ASSERT_EQ(all.exitCode, 0) << all.output;
  EXPECT_EQ(Lines(all.output).size(), users.size());
  for (const std::string& line : Lines(all.output)) EXPECT_EQ(line.rfind("\"user/", 0), 0u) << line;

  const json j = RunKvadminJson("kv", Dir(3), {"--prefix=user/", "--limit=4"});
  ASSERT_EQ(j["items"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(j["items"][i]["key"], users[i]);
  EXPECT_EQ(j["items"][0]["value"], data_->expected.at(users[0]));

  const auto none = RunKvadmin("kv", Dir(3), {"--prefix=no-such-prefix"});
  EXPECT_EQ(none.exitCode, 0);
  EXPECT_EQ(none.output, "");
}

TEST_F(KvadminOffline, SessionsListsBothClients) {
  // The client ids are the ones the log's commands carry.
  std::set<int64_t> clientsInLog;
  const json log = RunKvadminJson("log", Dir(1));
  for (const json& e : log["entries"]) {
    if (e.contains("command") && e["command"]["client_id"] != 0) clientsInLog.insert(e["command"]["client_id"].get<int64_t>());
  }
  ASSERT_FALSE(clientsInLog.empty());

  int code = -1;
  const json j = RunKvadminJson("sessions", Dir(1), {}, &code);
  ASSERT_EQ(code, 0);
  std::set<int64_t> sessions;
  for (const json& s : j["sessions"]) {
    sessions.insert(s["client_id"].get<int64_t>());
    EXPECT_TRUE(s["last_active_ms"].is_number()) << s.dump();
    EXPECT_GE(s["first_outstanding"].get<int64_t>(), 1) << s.dump();
    // The clients' Puts answered a plain OK: sequences in the header.
    ASSERT_TRUE(s["ok_sequences"].is_array()) << s.dump();
    for (const json& seq : s["ok_sequences"])
      EXPECT_GE(seq.get<int64_t>(), s["first_outstanding"].get<int64_t>()) << s.dump();
    for (const json& reply : s["replies"]) {
      EXPECT_TRUE(reply["code"].is_string()) << reply.dump();
      EXPECT_GE(reply["sequence"].get<int64_t>(), s["first_outstanding"].get<int64_t>());
    }
  }
  // Two clients wrote (a and b); the log may hold only one of them now.
  EXPECT_GE(sessions.size(), 2u);
  for (int64_t c : clientsInLog) EXPECT_TRUE(sessions.count(c)) << "client " << c;

  const auto r = RunKvadmin("sessions", Dir(1));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (int64_t c : sessions) {
    EXPECT_TRUE(Contains(r.output, "client " + std::to_string(c) + ": last_active_ms=")) << r.output;
  }
}

TEST_F(KvadminOffline, AppliedMatchesWhatTheNodeApplied) {
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("node " + std::to_string(n));
    const auto r = RunKvadmin("applied", Dir(n));
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(Contains(r.output, "index: " + std::to_string(data_->applied[n]) + "\n")) << r.output;
    int code = -1;
    const json j = RunKvadminJson("applied", Dir(n), {}, &code);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(j["index"], data_->applied[n]);
    EXPECT_GE(j["term"].get<int64_t>(), 1);
    EXPECT_LE(j["term"].get<int64_t>(), data_->term);
    EXPECT_GT(j["leader_time_ms"].get<int64_t>(), 0);
    EXPECT_TRUE(Contains(j["generation"].get<std::string>(), "/kv/db-"));
  }
}

TEST_F(KvadminOffline, StatsCountsPerColumnFamily) {
  const int n = 2;
  int code = -1;
  const json j = RunKvadminJson("stats", Dir(n), {}, &code);
  ASSERT_EQ(code, 0);
  auto family = [&](const char* instance, const char* name) {
    for (const json& f : j[instance]["column_families"]) {
      if (f["name"] == name) return f;
    }
    ADD_FAILURE() << "no column family " << name << " in " << instance;
    return json::object();
  };
  EXPECT_EQ(family("raft", "log")["keys"], data_->lastLogIndex[n] - data_->snapshotIndex[n]);
  EXPECT_EQ(family("raft", "meta")["keys"], 3);  // identity, hard state, snapshot meta
  EXPECT_EQ(family("kv", "default")["keys"], data_->expected.size());
  uint64_t bytes = 0;
  for (const auto& [k, v] : data_->expected) bytes += v.size();
  EXPECT_EQ(family("kv", "default")["value_bytes"], bytes);
  EXPECT_GE(family("kv", "sessions")["keys"].get<int64_t>(), 2);
  EXPECT_EQ(family("kv", "meta")["keys"], 1);
  EXPECT_GT(j["raft"]["disk_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["kv"]["disk_bytes"].get<int64_t>(), 0);
  ASSERT_EQ(j["snapshots"]["list"].size(), 1u);
  EXPECT_EQ(j["snapshots"]["list"][0]["index"], data_->snapshotIndex[n]);
  for (const char* f : {"keys", "key_bytes", "value_bytes", "estimated_keys", "sst_bytes", "memtable_bytes"}) {
    EXPECT_TRUE(family("kv", "default")[f].is_number()) << f;
  }

  const auto r = RunKvadmin("stats", Dir(n));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(Contains(r.output, "kv/default: keys=" + std::to_string(data_->expected.size()) + " "))
      << r.output;
  EXPECT_TRUE(Contains(r.output, "raft/log: keys=")) << r.output;
}

TEST_F(KvadminOffline, VerifyPassesOnEveryCleanNode) {
  for (int n = 1; n <= 3; ++n) {
    const auto r = RunKvadmin("verify", Dir(n));
    EXPECT_EQ(r.exitCode, 0) << "node " << n << ":\n" << r.output;
    EXPECT_EQ(r.output.rfind("OK: ", 0), 0u) << r.output;
    int code = -1;
    const json j = RunKvadminJson("verify", Dir(n), {}, &code);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["problems"], json::array());
    EXPECT_EQ(j["checked"]["applied_index"], data_->applied[n]);
    EXPECT_EQ(j["checked"]["last_index"], data_->lastLogIndex[n]);
  }
}

TEST_F(KvadminOffline, UsageAndUnreadableDirectoryExitCodes) {
  EXPECT_EQ(RunKvadmin("no-such-command", Dir(1)).exitCode, 64);
  EXPECT_EQ(RunKvadmin("kv", Dir(1), {"--no_such_flag=1"}).exitCode, 64);
  EXPECT_EQ(RunKvadmin("kv", Dir(1), {"--from=3"}).exitCode, 64);
  const auto missing = RunKvadmin("hard-state", Dir(1) + "/does-not-exist");
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_TRUE(Contains(missing.output, "does-not-exist")) << missing.output;
  int code = -1;
  const json j = RunKvadminJson("applied", Dir(1) + "/raft", {}, &code);  // a directory, but not a data dir
  EXPECT_EQ(code, 2);
  EXPECT_TRUE(j["error"].is_string()) << j.dump();
}

}  // namespace
}  // namespace kvraft::tools_test
