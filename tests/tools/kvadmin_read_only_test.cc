// kvadmin never changes a data directory: not a stopped node's, and not a
// live node's (paused with SIGSTOP so that only kvadmin could change
// anything while it runs). Every file's path, size and content is compared
// before and after; RocksDB's info LOG, which even a read-only open would
// create without care, is one of them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/kv_client.h"
#include "tests/integration/test_util.h"
#include "tests/tools/kvadmin_fixture.h"
#include "tests/tools/kvadmin_runner.h"

namespace kvraft::tools_test {
namespace {

namespace fs = std::filesystem;

// path (relative) -> "d" for a directory, or "f <size> <FNV-1a of content>".
std::map<std::string, std::string> Fingerprint(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).string();
    if (e.is_directory()) {
      out[rel] = "d";
      continue;
    }
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    const std::string bytes = content.str();
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    out[rel] = "f " + std::to_string(bytes.size()) + " " + std::to_string(h) + " " +
               std::to_string(fs::last_write_time(e.path()).time_since_epoch().count());
  }
  return out;
}

std::string Differences(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after) {
  std::string out;
  for (const auto& [path, what] : before) {
    auto it = after.find(path);
    if (it == after.end()) out += "removed: " + path + "\n";
    else if (it->second != what) out += "changed: " + path + " (" + what + " -> " + it->second + ")\n";
  }
  for (const auto& [path, what] : after) {
    if (!before.count(path)) out += "added: " + path + "\n";
  }
  return out;
}

// Every offline command, plain and --json, and a few variants.
void RunEveryCommand(const std::string& dir, bool expectVerifyOk) {
  for (const char* command : {"hard-state", "log", "kv", "sessions", "applied", "stats", "verify"}) {
    const auto r = RunKvadmin(command, dir);
    if (std::string(command) != "verify" || expectVerifyOk) {
      EXPECT_EQ(r.exitCode, 0) << command << ":\n" << r.output;
    }
    int code = -1;
    RunKvadminJson(command, dir, {}, &code);
  }
  RunKvadmin("log", dir, {"--from=2", "--to=5"});
  RunKvadmin("kv", dir, {"--prefix=k", "--limit=2"});
}

TEST(KvadminReadOnly, StoppedNodeDirectoryIsUntouched) {
  WrittenCluster data;
  ASSERT_TRUE(MakeWrittenCluster(&data));
  const std::string dir = data.cluster->DataDir(1);
  const auto before = Fingerprint(dir);
  ASSERT_GT(before.size(), 10u);
  RunEveryCommand(dir, /*expectVerifyOk=*/true);
  EXPECT_EQ(Differences(before, Fingerprint(dir)), "");
}

TEST(KvadminReadOnly, LiveNodeDirectoryIsUntouchedAndTheNodeGoesOn) {
  integration::KvdCluster cluster({.extraFlags = {"--snapshot_log_entries=20"}, .clusterId = "kvadmin-live"});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(integration::kLeaderLimit);
  ASSERT_NE(leader, 0);
  const int follower = integration::AFollower(cluster, leader);
  client::KvClient kv(integration::ClientOptions(cluster.ClientEndpoints()));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(kv.Put("k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(integration::WaitApplied(cluster, follower, integration::StatusOf(cluster, leader).commitIndex,
                                       integration::kCatchUpLimit));

  // Frozen: from here on only kvadmin could change its files.
  cluster.Pause(follower);
  const std::string dir = cluster.DataDir(follower);
  const auto before = Fingerprint(dir);
  ASSERT_GT(before.size(), 10u);
  // The node holds its RocksDB LOCKs meanwhile; kvadmin needs none.
  RunEveryCommand(dir, /*expectVerifyOk=*/true);
  EXPECT_EQ(Differences(before, Fingerprint(dir)), "");
  cluster.Resume(follower);

  // The node still works: it applies a new write and serves it.
  ASSERT_TRUE(kv.Put("after", "pause").ok());
  ASSERT_TRUE(integration::WaitApplied(cluster, follower, integration::StatusOf(cluster, leader).commitIndex,
                                       integration::kCatchUpLimit));
  client::KvClient onFollower(integration::ClientOptions({cluster.ClientEndpoint(follower)}));
  const client::Result r = onFollower.Get("after", /*stale=*/true);
  ASSERT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(r.value, "pause");
}

}  // namespace
}  // namespace kvraft::tools_test
