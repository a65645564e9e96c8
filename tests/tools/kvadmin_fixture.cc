#include "tests/tools/kvadmin_fixture.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/kv_client.h"
#include "tests/integration/test_util.h"

namespace kvraft::tools_test {

using namespace std::chrono_literals;
using integration::ClientOptions;
using integration::KvdCluster;

namespace {

bool Ok(const client::Result& r, const std::string& what) {
  if (!r.ok()) ADD_FAILURE() << what << ": " << r.ToString();
  return r.ok();
}

}  // namespace

bool MakeWrittenCluster(WrittenCluster* out) {
  out->cluster = std::make_unique<KvdCluster>(KvdCluster::Options{
      .extraFlags = {"--snapshot_log_entries=" + std::to_string(kSnapshotEntries)},
      .clusterId = "kvadmin-test"});
  KvdCluster& cluster = *out->cluster;
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(integration::kLeaderLimit);
  if (leader == 0) {
    ADD_FAILURE() << "no leader";
    return false;
  }
  auto& expected = out->expected;
  {
    client::KvClient a(ClientOptions(cluster.ClientEndpoints()));
    client::KvClient b(ClientOptions(cluster.ClientEndpoints()));
    for (int i = 0; i < 30; ++i) {
      const std::string key = "user/" + std::to_string(i);
      const std::string value = "value-" + std::to_string(i);
      if (!Ok(a.Put(key, value), "Put " + key)) return false;
      expected[key] = value;
    }
    if (!Ok(a.Append("user/3", "-appended"), "Append user/3")) return false;
    expected["user/3"] += "-appended";
    for (int i = 0; i < 2; ++i) {
      if (!Ok(b.Append("log/x", "abc"), "Append log/x")) return false;
    }
    expected["log/x"] = "abcabc";
    if (!Ok(a.Delete("user/5"), "Delete user/5")) return false;
    expected.erase("user/5");
    out->deleted.insert("user/5");
    // Bytes that are not printable, and a value longer than a preview.
    const std::string binKey("bin/\x01\xff", 6);
    const std::string binValue("\x00\x02zz", 4);
    if (!Ok(b.Put(binKey, binValue), "Put bin")) return false;
    expected[binKey] = binValue;
    const std::string big(100, 'z');
    if (!Ok(b.Put("big", big), "Put big")) return false;
    expected["big"] = big;
    if (!Ok(b.Put("other/1", "from-b"), "Put other/1")) return false;
    expected["other/1"] = "from-b";

    // Every node must have compacted its log, and still hold a few entries
    // after its snapshot (the damage tests cut one out of the middle).
    // Each filler write moves every log on by one; bounded.
    for (int i = 0; i < 4 * static_cast<int>(kSnapshotEntries); ++i) {
      const int64_t commit = integration::StatusOf(cluster, leader).commitIndex;
      bool ready = true;
      for (int n = 1; n <= cluster.size(); ++n) {
        if (!integration::WaitApplied(cluster, n, commit, integration::kCatchUpLimit)) {
          ADD_FAILURE() << "node " << n << " did not apply " << commit;
          return false;
        }
        const thrift::NodeStatus s = integration::StatusOf(cluster, n);
        // At kSnapshotEntries since its snapshot a node takes the next one,
        // which would empty its log again: below that, the log stays put.
        const int64_t since = s.lastLogIndex - s.snapshotIndex;
        ready = ready && s.snapshotIndex > 0 && since >= 6 &&
                since < static_cast<int64_t>(kSnapshotEntries);
      }
      if (ready) break;
      const std::string key = "filler/" + std::to_string(i);
      if (!Ok(a.Put(key, "f"), "Put " + key)) return false;
      expected[key] = "f";
    }
  }
  // The clients are gone: nothing more is proposed. Record what each node
  // applied once every node has applied every entry any log holds. A
  // follower learns of the last commits only with the leader's next
  // heartbeat, and a leader elected meanwhile still commits its no-op, so
  // one node's commit index is not yet the end.
  bool settled = false;
  for (int round = 0; round < 20 && !settled; ++round) {
    int64_t last = 0;
    for (int n = 1; n <= cluster.size(); ++n) {
      last = std::max(last, integration::StatusOf(cluster, n).lastLogIndex);
    }
    settled = true;
    for (int n = 1; n <= cluster.size(); ++n) {
      settled = integration::WaitApplied(cluster, n, last, integration::kCatchUpLimit / 20) && settled;
    }
  }
  if (!settled) {
    ADD_FAILURE() << "the nodes did not all apply the end of the log";
    return false;
  }
  for (int n = 1; n <= cluster.size(); ++n) {
    const thrift::NodeStatus s = integration::StatusOf(cluster, n);
    out->applied[n] = s.appliedIndex;
    out->lastLogIndex[n] = s.lastLogIndex;
    out->snapshotIndex[n] = s.snapshotIndex;
    if (s.snapshotIndex == 0 || s.lastLogIndex - s.snapshotIndex < 6) {
      ADD_FAILURE() << "node " << n << " has snapshot index " << s.snapshotIndex
                    << " and last index " << s.lastLogIndex << ": no snapshot with entries after it";
      return false;
    }
  }
  out->term = integration::StatusOf(cluster, leader).term;
  // Followers first: the leader keeps its term and appends nothing more.
  for (int n = 1; n <= cluster.size(); ++n) {
    if (n != leader && cluster.Stop(n) != 0) {
      ADD_FAILURE() << "node " << n << " did not stop cleanly";
      return false;
    }
  }
  if (cluster.Stop(leader) != 0) {
    ADD_FAILURE() << "leader " << leader << " did not stop cleanly";
    return false;
  }
  return true;
}

}  // namespace kvraft::tools_test
