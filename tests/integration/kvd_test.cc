// kvd through the client library: every operation's answers on a real
// 3-node cluster, and a client that knows only a follower.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/kv_client.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/test_util.h"
#include "tests/integration/thrift_link.h"

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;
using client::Code;
using client::KvClient;
using client::Result;

#define EXPECT_OK(expr)                          \
  do {                                           \
    const Result r_ = (expr);                    \
    EXPECT_EQ(r_.code, Code::kOk) << r_.ToString(); \
  } while (0)

std::optional<std::string> ValueOf(KvClient& kv, const std::string& key) {
  Result r = kv.Get(key);
  EXPECT_TRUE(r.code == Code::kOk || r.code == Code::kNotFound) << key << ": " << r.ToString();
  return r.ok() ? r.value : std::nullopt;
}

TEST(Kvd, Basic) {
  KvdCluster cluster({});
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader";
  KvClient kv(ClientOptions(cluster.ClientEndpoints()));

  // Put, Get.
  EXPECT_OK(kv.Put("k1", "v1"));
  EXPECT_EQ(ValueOf(kv, "k1"), "v1");
  EXPECT_EQ(kv.Get("missing").code, Code::kNotFound);
  EXPECT_OK(kv.Put("k1", "v1b"));
  EXPECT_EQ(ValueOf(kv, "k1"), "v1b");

  // Append: to a value, and to an absent key (which it creates).
  EXPECT_OK(kv.Append("k1", "+a"));
  EXPECT_EQ(ValueOf(kv, "k1"), "v1b+a");
  EXPECT_OK(kv.Append("fresh", "x"));
  EXPECT_EQ(ValueOf(kv, "fresh"), "x");

  // Delete: a key, then the same key again.
  EXPECT_OK(kv.Delete("fresh"));
  EXPECT_EQ(kv.Get("fresh").code, Code::kNotFound);
  EXPECT_EQ(kv.Delete("fresh").code, Code::kNotFound);

  // CompareAndSwap: matching, failing (the answer carries the current value),
  // expecting absence of an absent key and of a present one, and expecting a
  // value of an absent key.
  EXPECT_OK(kv.CompareAndSwap("k1", "v1b+a", "v2"));
  EXPECT_EQ(ValueOf(kv, "k1"), "v2");
  Result failed = kv.CompareAndSwap("k1", "wrong", "v3");
  EXPECT_EQ(failed.code, Code::kCasFailed) << failed.ToString();
  EXPECT_EQ(failed.value, "v2");
  EXPECT_EQ(ValueOf(kv, "k1"), "v2");
  EXPECT_OK(kv.CompareAndSwap("new", std::nullopt, "n1"));
  EXPECT_EQ(ValueOf(kv, "new"), "n1");
  failed = kv.CompareAndSwap("new", std::nullopt, "n2");
  EXPECT_EQ(failed.code, Code::kCasFailed) << failed.ToString();
  EXPECT_EQ(failed.value, "n1");
  failed = kv.CompareAndSwap("absent", "x", "y");
  EXPECT_EQ(failed.code, Code::kCasFailed) << failed.ToString();
  EXPECT_EQ(failed.value, std::nullopt) << "the key is absent";
  EXPECT_EQ(kv.Get("absent").code, Code::kNotFound);

  // Range: pages of 2 over r1..r5, continuing after the last key of each.
  for (int i = 1; i <= 5; ++i) EXPECT_OK(kv.Put("r" + std::to_string(i), "rv" + std::to_string(i)));
  Result page = kv.Range("r", "s", 2);
  ASSERT_TRUE(page.ok()) << page.ToString();
  EXPECT_EQ(page.items, (std::vector<client::KeyValue>{{"r1", "rv1"}, {"r2", "rv2"}}));
  EXPECT_TRUE(page.more);
  page = kv.Range(std::string("r2\0", 3), "s", 2);
  ASSERT_TRUE(page.ok()) << page.ToString();
  EXPECT_EQ(page.items, (std::vector<client::KeyValue>{{"r3", "rv3"}, {"r4", "rv4"}}));
  EXPECT_TRUE(page.more);
  page = kv.Range(std::string("r4\0", 3), "s", 2);
  ASSERT_TRUE(page.ok()) << page.ToString();
  EXPECT_EQ(page.items, (std::vector<client::KeyValue>{{"r5", "rv5"}}));
  EXPECT_FALSE(page.more);
  page = kv.Range("r", "s", 0);
  ASSERT_TRUE(page.ok()) << page.ToString();
  EXPECT_EQ(page.items.size(), 5u);
  EXPECT_FALSE(page.more);
  page = kv.Range("", "", 0);  // everything
  ASSERT_TRUE(page.ok()) << page.ToString();
  EXPECT_EQ(page.items.size(), 7u) << "k1, new, r1..r5";

  // A stale read from each node on its own sees the value once that node
  // has applied it.
  for (int i = 1; i <= cluster.size(); ++i) {
    KvClient one(ClientOptions({cluster.ClientEndpoint(i)}));
    Result last;
    EXPECT_TRUE(Eventually(
        [&] {
          last = one.Get("k1", /*stale=*/true);
          return last.ok() && last.value == "v2";
        },
        kCatchUpLimit))
        << "node " << i << " never served k1=v2 to a stale read; last answer: " << last.ToString();
  }
}

TEST(Kvd, NotLeaderRedirect) {
  KvdCluster cluster({});
  cluster.StartAll();
  const int leader = cluster.WaitForLeader(kLeaderLimit);
  ASSERT_NE(leader, 0) << "no leader";
  const int follower = AFollower(cluster, leader);
  ASSERT_TRUE(cluster.WaitAllServing(kLeaderLimit));

  // On the wire: the follower refuses and names the leader, once it has
  // heard from one (WaitForLeader needs only a majority to agree).
  {
    KvLink link(cluster.ClientEndpoint(follower), 5s);
    kvraft::thrift::RegisterClientResponse answer;
    EXPECT_TRUE(Eventually(
        [&] {
          link->RegisterClient(answer);
          return answer.result.code != kvraft::thrift::Code::NOT_LEADER || answer.result.leaderId != 0;
        },
        kCatchUpLimit));
    EXPECT_EQ(answer.result.code, kvraft::thrift::Code::NOT_LEADER) << answer.result.message;
    EXPECT_NE(answer.result.leaderId, follower) << answer.result.message;
    if (answer.result.leaderId > 0 && answer.result.leaderId <= cluster.size()) {
      EXPECT_EQ(answer.result.leaderAddress, cluster.ClientEndpoint(static_cast<int>(answer.result.leaderId)));
    } else {
      ADD_FAILURE() << "NOT_LEADER named no leader of this cluster: leaderId " << answer.result.leaderId;
    }
  }

  // A client that knows only the follower follows the hint.
  KvClient kv(ClientOptions({cluster.ClientEndpoint(follower)}));
  EXPECT_OK(kv.Put("redirected", "yes"));
  Result r = kv.Get("redirected");
  EXPECT_EQ(r.code, Code::kOk) << r.ToString();
  EXPECT_EQ(r.value, "yes");
  EXPECT_OK(kv.Append("redirected", "!"));
  EXPECT_EQ(ValueOf(kv, "redirected"), "yes!");
}

}  // namespace
}  // namespace kvraft::integration
