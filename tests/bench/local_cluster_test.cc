// LocalCluster's port choice: a spawned cluster given one port twice
// cannot start, so the ports chosen together must all differ.
#include "bench/local_cluster.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace kvraft::bench {
namespace {

TEST(LocalClusterPorts, PortsChosenTogetherAllDiffer) {
  for (int round = 0; round < 200; ++round) {
    std::vector<int> ports;
    ASSERT_TRUE(FreeLoopbackPorts(6, &ports));
    ASSERT_EQ(ports.size(), 6u);
    const std::set<int> distinct(ports.begin(), ports.end());
    EXPECT_EQ(distinct.size(), ports.size()) << "round " << round;
    for (int p : ports) EXPECT_GT(p, 0);
  }
}

}  // namespace
}  // namespace kvraft::bench
