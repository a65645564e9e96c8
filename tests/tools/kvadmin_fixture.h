#pragma once
// The data directories the kvadmin tests read: made by a real 3-node kvd
// cluster (tests/integration/kvd_cluster.h) that a client wrote known keys
// to, with Put, Append and Delete in two sessions and a snapshot interval
// small enough that every node has compacted its log at least once; then
// stopped cleanly.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/kvd_cluster.h"

namespace kvraft::tools_test {

struct WrittenCluster {
  std::unique_ptr<integration::KvdCluster> cluster;  // stopped; owns the data root
  // What the kv state must hold afterwards, and keys deleted on the way.
  std::map<std::string, std::string> expected;
  std::set<std::string> deleted;
  // Each node's applied index, last log and snapshot index (Status) once
  // everything was applied and before it stopped.
  std::map<int, int64_t> applied;
  std::map<int, int64_t> lastLogIndex;
  std::map<int, int64_t> snapshotIndex;
  int64_t term = 0;
};

// Starts the cluster, writes, waits until every node applied everything,
// records the nodes' status and stops them (followers first, so that no
// new leader appends to the log). When a step does not work it adds a test
// failure saying which and returns false (the caller then ASSERTs).
bool MakeWrittenCluster(WrittenCluster* out);

// The snapshot interval the fixture runs with.
constexpr uint64_t kSnapshotEntries = 20;

// A test fixture whose tests share one WrittenCluster. The first test of
// the process that needs it makes it (from SetUp, on the main thread, so
// that a failure fails that test: a failing SetUpTestSuite would only mark
// the tests skipped); ctest runs each test in a process of its own.
class WrittenClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (data_ == nullptr) {
      data_ = new WrittenCluster;
      ok_ = MakeWrittenCluster(data_);
    }
    ASSERT_TRUE(ok_) << "the cluster fixture could not be made";
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  static std::string Dir(int node) { return data_->cluster->DataDir(node); }

  static inline WrittenCluster* data_ = nullptr;
  static inline bool ok_ = false;
};

}  // namespace kvraft::tools_test
